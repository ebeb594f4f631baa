/* One entry point per subcommand, one file per subcommand (src/cmd_*.c).
 * Each parses its own options (argv[0] is the subcommand name) and returns
 * the process exit status. */
#ifndef CLAWBOX_COMMANDS_H
#define CLAWBOX_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_secrets(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
