/* --net filtered, the host's side: slots, veth, NAT, forwarding. */
#include "util/common.h"

#include "net/netbox.h"
#include "net/netfilter.h"
#include "net/nftload.h"
#include "net/nftrules_def.h"
#include "net/veth.h"
#include "util/error.h"
#include "util/fs.h"

#include <arpa/inet.h>
#include <sys/file.h>

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"
#define HOST_GEN   NETFILTER_RUN_DIR "/host-gen"

/* The /30 of slot n, network byte order. */
static uint32_t slot_net(unsigned n)
{
	struct in_addr pool;
	inet_pton(AF_INET, NFTRULES_POOL, &pool);
	return htonl(ntohl(pool.s_addr) + (n << 2));
}

/* One line of /proc/net/route: "Iface Destination Gateway Flags RefCnt Use
 * Metric Mask ...". False for the header, default routes, clawbox's own
 * interfaces and anything malformed. */
static bool parse_route(char *line, uint32_t *ret_dst, uint32_t *ret_mask)
{
	char *field[8], *save = NULL, *end;
	size_t n = 0;
	for (char *t = strtok_r(line, " \t\n", &save); t && n < ELEMENTSOF(field);
	     t = strtok_r(NULL, " \t\n", &save))
		field[n++] = t;
	if (n < 8 || strncmp(field[0], NFTRULES_IFPREFIX, strlen(NFTRULES_IFPREFIX)) == 0)
		return false;
	errno = 0;
	unsigned long dst = strtoul(field[1], &end, 16);
	if (errno || *end)
		return false;
	unsigned long mask = strtoul(field[7], &end, 16);
	if (errno || *end || mask == 0 || dst > UINT32_MAX || mask > UINT32_MAX)
		return false;
	*ret_dst = (uint32_t)dst;
	*ret_mask = (uint32_t)mask;
	return true;
}

/* Does net/prefix overlap a route of the host's main table (routes of
 * clawbox's own interfaces excepted)? /proc/net/route prints each address
 * as the hex of its network-order bytes read as a host integer, so the
 * values compare bitwise with ours as they are. */
static bool overlaps_route(uint32_t net, int prefix)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	uint32_t mask = htonl(~0U << (32 - prefix));
	char line[256];
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		uint32_t dst, rmask;
		if (!parse_route(line, &dst, &rmask))
			continue;
		if (((dst ^ net) & rmask & mask) == 0)
			return true;
	}
	return false;
}

/* Lock slot n's file; 0 with the fd, -EBUSY if another box holds it. */
static int lock_slot(unsigned n, struct netfilter_slot *s)
{
	snprintf(s->path, sizeof(s->path), NETFILTER_RUN_DIR "/slot-%u", n);
	for (;;) {
		struct stat a, b;
		_cleanup_close_ int fd =
		    open(s->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			return errno == EWOULDBLOCK ? -EBUSY : -errno;
		/* The holder may have removed it between our open and flock. */
		if (fstat(fd, &a) == 0 && stat(s->path, &b) == 0 && a.st_ino == b.st_ino) {
			s->lock_fd = TAKE_FD(fd);
			return 0;
		}
	}
}

int netfilter_slot_take(struct netfilter_slot *ret, struct error *err)
{
	struct netfilter_slot s = { .lock_fd = -1, .prefix = 30 };
	int r;
	if ((r = fs_mkdir_p(NETFILTER_RUN_DIR, 0700)) < 0)
		return error_errno(err, r, "create '%s'", NETFILTER_RUN_DIR);
	for (unsigned n = 0; n < NETFILTER_SLOTS; n++) {
		uint32_t net = slot_net(n);
		if (overlaps_route(net, s.prefix))
			continue;
		if ((r = lock_slot(n, &s)) == -EBUSY)
			continue;
		if (r < 0)
			break;
		s.n = n;
		s.host_addr = htonl(ntohl(net) + 1);
		s.box_addr = htonl(ntohl(net) + 2);
		snprintf(s.host_if, sizeof(s.host_if), NFTRULES_IFPREFIX "%u", n);
		char line[64];
		int len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
		(void)!write(s.lock_fd, line, (size_t)len);
		*ret = s;
		return 0;
	}
	return error_errno(err, r < 0 ? r : -EADDRNOTAVAIL, "take a network slot in '%s'",
			   NETFILTER_RUN_DIR);
}

void netfilter_slot_release(struct netfilter_slot *s)
{
	/* The veth pair is not deleted here: deleting a link waits for RCU
	 * grace periods (35-45 ms of a 50 ms filtered run), and the kernel
	 * deletes both ends anyway when the box's network namespace goes,
	 * just after the box init. A new box that finds the name still taken
	 * replaces the pair (netfilter_veth_up). */
	if (s->lock_fd >= 0) {
		unlink(s->path);
		close(s->lock_fd);
	}
	s->lock_fd = -1;
}

static int read_forwarding(bool *ret_on)
{
	char c = 0;
	_cleanup_close_ int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &c, 1) != 1)
		return fd < 0 ? -errno : -EIO;
	*ret_on = c != '0';
	return 0;
}

/* The ruleset generation recorded after clawbox last loaded the NAT table
 * (0: none). */
static uint32_t recorded_gen(void)
{
	char b[16] = "";
	_cleanup_close_ int fd = open(HOST_GEN, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || read(fd, b, sizeof(b) - 1) <= 0)
		return 0;
	char *end;
	unsigned long v = strtoul(b, &end, 10);
	return *end == '\n' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static void record_gen(uint32_t gen)
{
	char b[16];
	int n = snprintf(b, sizeof(b), "%u\n", gen);
	_cleanup_close_ int fd =
	    open(HOST_GEN, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && write(fd, b, (size_t)n) != n)
		(void)!ftruncate(fd, 0);
}

/* Load the host's NAT table, unless the host's ruleset has not changed at
 * all since clawbox last loaded it (then it is exactly ours). Replacing it
 * deletes the old table, and the kernel then makes the socket's close wait
 * for an RCU grace period (10-30 ms here), on every filtered start. */
static int load_host_nat(void)
{
	uint32_t before = 0, after = 0;
	if (fs_mkdir_p(NETFILTER_RUN_DIR, 0700) < 0 || nftload_genid(&before) < 0)
		before = 0;
	if (before != 0 && before == recorded_gen())
		return 0;
	int r = nftload(NFTLOAD_HOST_NAT);
	if (r < 0)
		return r;
	/* Record only when nobody else committed in between. */
	if (before != 0 && nftload_genid(&after) == 0 && after == before + 1)
		record_gen(after);
	else
		unlink(HOST_GEN);
	return 0;
}

int netfilter_host_prepare(bool *ret_enabled, struct error *err)
{
	bool on = false;
	int r;
	*ret_enabled = false;
	if ((r = load_host_nat()) < 0)
		return error_errno(err, r, "install the host's nftables table 'ip %s'",
				   NFTRULES_HOST_TABLE);
	if ((r = read_forwarding(&on)) < 0)
		return error_errno(err, r, "read '%s'", IP_FORWARD);
	if (on)
		return 0;
	/* Forwarding was off: nothing but the boxes' traffic may use it. */
	if ((r = nftload(NFTLOAD_HOST_GUARD)) < 0)
		return error_errno(err, r, "install the forwarding guard 'ip %s'",
				   NFTRULES_GUARD_TABLE);
	_cleanup_close_ int fd = open(IP_FORWARD, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		return error_errno(err, fd < 0 ? -errno : -EIO, "turn IPv4 forwarding on in '%s'",
				   IP_FORWARD);
	*ret_enabled = true;
	return 0;
}

int netfilter_veth_up(struct netfilter_slot *s, pid_t box_pid, struct error *err)
{
	int r;
	if ((r = veth_create(s->host_if, NETBOX_IFNAME, box_pid)) == -EEXIST) {
		veth_delete(s->host_if);
		r = veth_create(s->host_if, NETBOX_IFNAME, box_pid);
	}
	if (r < 0)
		return error_errno(err, r, "create the box's veth pair '%s'", s->host_if);
	if ((r = veth_configure(s->host_if, s->host_addr, s->prefix)) < 0)
		return error_errno(err, r, "configure the host side '%s' of the box's veth pair",
				   s->host_if);
	return 0;
}
