/* Running a command in an up box from the command line: src/cli/exec_client.h. */
#include "util/clock.h"
#include "util/common.h"

#include "box/pty.h"
#include "box/supervisor.h"
#include "cli/cli.h"
#include "cli/exec_client.h"
#include "ctl/ctl.h"
#include "secrets/secrets.h"
#include "util/log.h"

#include <poll.h>
#include <signal.h>
#include <time.h>

static int sig_w = -1;

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	(void)!write(sig_w, &b, 1);
	errno = saved;
}

static const int caught[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT
};

static void catch_signals(bool on)
{
	struct sigaction sa = { .sa_handler = on ? on_signal : SIG_DFL, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ELEMENTSOF(caught); i++)
		sigaction(caught[i], &sa, NULL);
}

/* The caller's standard fds: terminals (bits), or -EBADF after a message
 * for one a box must not hold. */
static int stdio_terminals(void)
{
	static const char *const names[] = { "standard input", "standard output",
					     "standard error" };
	int tty = 0;
	for (int fd = 0; fd < 3; fd++) {
		const char *why = NULL;
		enum supervisor_stdio v = supervisor_stdio_check(fd, &why);
		if (v == SUPERVISOR_STDIO_TTY)
			tty |= 1 << fd;
		if (v == SUPERVISOR_STDIO_REFUSE) {
			log_error("%s is %s: refusing to give it to a box", names[fd], why);
			return -EBADF;
		}
	}
	return tty;
}

struct client {
	struct ctl_exec *x;
	struct pty_relay pr;
	unsigned tty;
	int sig_r;
	int64_t deadline;
	bool timed_out, ended;
	int code;
};

/* A signal clawbox got: the terminal's (its size, fg/bg) or the command's. */
static void on_our_signal(struct client *c)
{
	unsigned char sig[16];
	ssize_t k = read(c->sig_r, sig, sizeof(sig));
	for (ssize_t i = 0; i < k; i++) {
		if (sig[i] == SIGWINCH)
			pty_relay_resize(&c->pr);
		else if (sig[i] == SIGCONT)
			pty_relay_resume(&c->pr);
		else
			ctl_exec_signal(c->x, sig[i]);
	}
}

static void on_event(struct client *c, const struct box *b, const char *cmd)
{
	struct ctl_event ev;
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	int r = ctl_exec_next(c->x, &ev, &err);
	if (r < 0) {
		log_error("box '%s': %s", b->name, cli_error_text(&err, r, msg, sizeof(msg)));
		c->ended = true;
		c->code = EXIT_SETUP;
		return;
	}
	if (ev.kind == CTL_EV_PTY)
		pty_relay_start(&c->pr, ev.fd, c->tty);
	if (ev.kind == CTL_EV_FAIL) {
		if (ev.exit_code == EXIT_NOT_FOUND)
			log_error("command not found in the box: '%s'", cmd);
		else if (ev.exit_code == EXIT_CANNOT_EXEC)
			log_error("cannot execute the command in the box: %s",
				  error_format(&ev.error, msg, sizeof(msg)));
		else
			log_error("box '%s': %s", b->name,
				  error_format(&ev.error, msg, sizeof(msg)));
	}
	if (ev.kind == CTL_EV_EXIT || ev.kind == CTL_EV_FAIL) {
		c->ended = true;
		c->code = c->timed_out ? EXEC_EXIT_TIMEOUT : ev.exit_code;
	}
}

/* Relay until the command's end, then what its terminal still shows. */
static void relay(struct client *c, const struct box *b, const char *cmd)
{
	while (!c->ended || pty_relay_active(&c->pr)) {
		struct pollfd p[4];
		nfds_t n = 0;
		int64_t left = c->deadline && !c->timed_out ? c->deadline - clock_ms() : -1;
		if (left == 0 || (c->deadline && !c->timed_out && left < 0)) {
			ctl_exec_signal(c->x, SIGKILL);
			c->timed_out = true;
			continue;
		}
		p[n++] =
		    (struct pollfd){ .fd = c->ended ? -1 : ctl_exec_fd(c->x), .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = c->sig_r, .events = POLLIN };
		nfds_t base = n;
		n += pty_relay_pollfds(&c->pr, p + n);
		int held = pty_relay_timeout(&c->pr), wait = c->ended ? 200 : (int)left;
		if (held >= 0 && (wait < 0 || held < wait))
			wait = held;
		int ready = poll(p, n, wait);
		if (ready == 0 && held >= 0) {
			pty_relay_tick(&c->pr);
			continue;
		}
		if (ready <= 0) {
			if (c->ended)
				break;
			continue;
		}
		if (p[1].revents)
			on_our_signal(c);
		pty_relay_io(&c->pr, p + base, n - base);
		if (p[0].revents)
			on_event(c, b, cmd);
	}
}

/* The values the box was ever given: what its terminal shows redacted. */
static struct secrets *known_values(const struct box *b)
{
	struct secrets *k = NULL;
	if (secrets_new_known(&k) < 0 || secrets_known_load(b->dir, k, NULL) < 0)
		return secrets_free(k);
	return k;
}

int exec_client_run(const struct box *b, const struct exec_client_opts *o)
{
	struct client c = { .code = EXIT_SETUP };
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	int sp[2];

	int tty = stdio_terminals();
	if (tty < 0)
		return EXIT_SETUP;
	c.tty = (unsigned)tty;
	struct ctl_exec_spec spec = { .argv = o->argv,
				      .env = o->env,
				      .session = o->session,
				      .cwd = o->cwd,
				      .fds = { 0, 1, 2 },
				      .pty_fds = c.tty };
	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("cannot create a pipe: %s", strerror(errno));
		return EXIT_SETUP;
	}
	_cleanup_(secrets_freep) struct secrets *known = c.tty ? known_values(b) : NULL;
	pty_relay_init(&c.pr, known);
	int r = ctl_exec_start(b, &spec, &c.x, &err);
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, msg, sizeof(msg)));
	} else {
		sig_w = sp[1];
		c.sig_r = sp[0];
		c.deadline = o->timeout_ms > 0 ? clock_ms() + o->timeout_ms : 0;
		catch_signals(true);
		relay(&c, b, o->argv[0]);
		catch_signals(false);
		if (c.timed_out)
			log_error("the command timed out after %lld ms: killed",
				  (long long)o->timeout_ms);
	}
	pty_relay_finish(&c.pr);
	ctl_exec_free(c.x);
	close(sp[0]);
	close(sp[1]);
	return c.code;
}
