/*
 * fuzz_policy: any bytes as a policy file. policy_parse must return, with
 * either a policy or at least one diagnostic naming a line inside the file;
 * a policy that parses must render: GET /v1/policy's JSON and the notice in
 * each of its languages, HTML and Markdown.
 */
#include <stdlib.h>
#include <string.h>

#include "api/policy_json.h"
#include "core/notice.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* At least as many lines as libyaml counts: it breaks lines at LF, at a
 * lone CR, and at NEL, LS and PS (whose UTF-8 forms end in 0x85, 0xA8,
 * 0xA9); CRLF counts as two here, which only widens the bound. */
static int lines_in(const uint8_t *data, size_t size)
{
	int n = 1;
	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0xA8 || data[i] == 0xA9;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	struct policy_diags d = {0};
	enum rc rc = policy_parse((const char *)data, size, &p, &d);
	if (rc) {
		if (p)
			fuzz_fail("policy_parse failed (%s) but gave a policy", rc_code(rc));
		if (rc == RC_POLICY && d.n == 0)
			fuzz_fail("policy_parse refused the file without a diagnostic");
		int last = lines_in(data, size);
		for (size_t i = 0; i < d.n; i++)
			if (d.v[i].line < 1 || d.v[i].line > last + 1)
				fuzz_fail("diagnostic on line %d of a %d-line file: %s", d.v[i].line, last, d.v[i].msg);
		policy_diags_fini(&d);
		return 0;
	}
	policy_diags_fini(&d);
	json_t *j = policy_to_json(p);
	if (!j)
		fuzz_fail("policy_to_json gave nothing for a valid policy");
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		fuzz_fail("GET /v1/policy's JSON does not print");
	free(s);
	json_decref(j);
	for (size_t i = 0; i < p->nlanguages; i++)
		for (int f = NOTICE_HTML; f <= NOTICE_MARKDOWN; f++) {
			struct buf out;
			struct errbuf eb = {""};
			buf_init(&out, 4 * 1024 * 1024);
			rc = notice_render(p, p->languages[i], (enum notice_format)f, &out, &eb);
			if (rc)
				fuzz_fail("the notice in %s does not render: %s", p->languages[i], err_msg(&eb, rc));
			buf_fini(&out);
		}
	policy_free(p);
	return 0;
}
