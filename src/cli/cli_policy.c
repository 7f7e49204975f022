/* cli_policy: `privreg policy check|render`. */
#include "cli/cli_policy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/policy_json.h"
#include "cli/cli.h"
#include "core/mail.h"
#include "core/notice.h"
#include "core/policy.h"

static const char policy_help[] =
	"usage: privreg policy check FILE...\n"
	"       privreg policy render FILE\n"
	"       privreg policy render --notice [--lang L] [--format html|md] FILE\n\n"
	"check validates each policy file, and the mail templates it names\n"
	"(controller.mail.templates): it exits 0 when all are valid, else it\n"
	"prints every mistake as FILE:LINE: message and exits 1.\n"
	"render prints the normalised policy as JSON (defaults explicit, durations\n"
	"as words and ISO 8601). With --notice it prints the privacy notice the\n"
	"policy makes, in language L (default: the policy's first), as HTML or\n"
	"Markdown.\n";

static int render_notice(const char *path, const char *lang, enum notice_format f)
{
	struct policy *p = NULL;
	enum rc rc = policy_load(path, &p, NULL, NULL);
	if (rc) {
		fprintf(stderr, "privreg: %s is not a valid policy (see 'privreg policy check')\n", path);
		return rc == RC_IO ? CLI_FAILED : CLI_REFUSED;
	}
	struct buf b;
	struct errbuf eb = {""};
	buf_init(&b, 1024 * 1024);
	rc = notice_render(p, lang ? lang : p->languages[0], f, &b, &eb);
	if (!rc)
		fwrite(b.data, 1, b.len, stdout);
	buf_fini(&b);
	policy_free(p);
	return rc ? cli_fail("policy render", rc, &eb) : CLI_OK;
}

/* The policy's own mail templates, read from the directory it names
 * relative to its own file; each mistake printed as the template's
 * FILE[:LINE]: message. */
static enum rc check_mail(const char *path, const struct policy *p, struct mail_templates **mail, size_t *mistakes)
{
	const char *dir = p->controller.mail_templates;
	char full[4096 + 1100];
	const char *slash = strrchr(path, '/');
	if (dir[0] == '/' || !slash)
		snprintf(full, sizeof full, "%s", dir);
	else
		snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, dir);
	struct policy_diags d = {0};
	enum rc rc = mail_templates_load(full, p, mail, &d);
	for (size_t i = 0; i < d.n; i++)
		printf("%s\n", d.v[i].msg);
	fflush(stdout);
	*mistakes = d.n;
	policy_diags_fini(&d);
	return rc;
}

int cli_policy_check_file(const char *path, char **source, struct mail_templates **mail)
{
	struct policy *p = NULL;
	struct mail_templates *m = NULL;
	struct policy_diags d = {0};
	enum rc rc = policy_load(path, &p, source, &d);
	for (size_t i = 0; i < d.n; i++)
		printf("%s:%d: %s\n", path, d.v[i].line, d.v[i].msg);
	fflush(stdout);
	if (!rc && p->controller.mail_templates) {
		size_t mistakes = 0;
		rc = check_mail(path, p, &m, &mistakes);
		if (rc)
			fprintf(stderr, "privreg: %s: %zu mistake%s in its mail templates\n", path, mistakes,
			        mistakes == 1 ? "" : "s");
		if (rc && source) {
			free(*source);
			*source = NULL;
		}
	} else if (rc) {
		fprintf(stderr, "privreg: %s: %zu mistake%s\n", path, d.n, d.n == 1 ? "" : "s");
	}
	if (mail)
		*mail = m;
	else
		mail_templates_free(m);
	policy_diags_fini(&d);
	if (!rc) { /* valid: what its notice would leave unsaid, as warnings */
		policy_warnings(p, &d);
		for (size_t i = 0; i < d.n; i++)
			printf("%s:%d: warning: %s\n", path, d.v[i].line, d.v[i].msg);
		fflush(stdout);
		policy_diags_fini(&d);
	}
	policy_free(p);
	return rc ? (rc == RC_IO ? CLI_FAILED : CLI_REFUSED) : CLI_OK;
}

static int render(const char *path)
{
	struct policy *p = NULL;
	struct policy_diags d = {0};
	enum rc rc = policy_load(path, &p, NULL, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s:%d: %s\n", path, d.v[i].line, d.v[i].msg);
	policy_diags_fini(&d);
	if (rc)
		return rc == RC_IO ? CLI_FAILED : CLI_REFUSED;
	json_t *j = policy_to_json(p);
	policy_free(p);
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return CLI_FAILED;
	puts(s);
	free(s);
	return CLI_OK;
}

int cli_policy(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(policy_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (!strcmp(argv[1], "check") && argc >= 3) {
		int worst = CLI_OK;
		for (int i = 2; i < argc; i++) {
			int ret = cli_policy_check_file(argv[i], NULL, NULL);
			if (ret > worst)
				worst = ret;
			if (!ret)
				printf("%s: ok\n", argv[i]);
		}
		return worst;
	}
	if (!strcmp(argv[1], "render") && argc == 3)
		return render(argv[2]);
	if (!strcmp(argv[1], "render") && argc > 3) {
		const char *lang = NULL, *file = NULL;
		enum notice_format f = NOTICE_HTML;
		bool notice = false;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--notice"))
				notice = true;
			else if (!strcmp(argv[i], "--lang") && i + 1 < argc)
				lang = argv[++i];
			else if (!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[i + 1], "md") && ++i)
				f = NOTICE_MARKDOWN;
			else if (!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[i + 1], "html") && ++i)
				f = NOTICE_HTML;
			else if (argv[i][0] != '-' && !file)
				file = argv[i];
			else
				notice = false, i = argc; /* a usage error below */
		}
		if (notice && file)
			return render_notice(file, lang, f);
	}
	cli_usage_error("policy", "expected 'policy check FILE...' or 'policy render FILE'");
	return CLI_USAGE;
}
