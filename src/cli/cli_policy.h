/* cli_policy: policy checking shared by `policy check`, `init` and `tenant add`. */
#ifndef PRIVREG_CLI_POLICY_H
#define PRIVREG_CLI_POLICY_H

/* Loads and checks FILE; prints each mistake as FILE:LINE: message (stdout).
 * On success returns 0 and, if source is not NULL, the file's text. */
int cli_policy_check_file(const char *path, char **source);

#endif
