/* cli_policy: policy checking shared by `policy check`, `init` and `tenant add`. */
#ifndef PRIVREG_CLI_POLICY_H
#define PRIVREG_CLI_POLICY_H

struct mail_templates;

/* Loads and checks FILE, and the mail templates it names
 * (controller.mail.templates, relative to FILE's directory); prints each
 * mistake as FILE:LINE: message (stdout). On success returns 0 and, if
 * source is not NULL, the file's text, and if mail is not NULL, the
 * templates (NULL when it names none; mail_templates_free them). */
int cli_policy_check_file(const char *path, char **source, struct mail_templates **mail);

#endif
