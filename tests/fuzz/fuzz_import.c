/*
 * fuzz_import: any bytes as the file of `privreg import KIND FILE`, read by
 * the same reader and writer the command uses (cli_import_file) into a
 * throwaway SQLite register in /tmp (web shop policy), inside a
 * transaction that is rolled back after each input, so the register stays
 * small. Byte 0 picks KIND (account, order, accounting_entry) and the
 * format (bit 2: CSV, whose first row is the header; else JSON Lines); the
 * rest is the file.
 *
 * Checked: the import either takes the file or refuses it (exit code 1),
 * never fails as a server fault (3); a JSON Lines file it takes had every
 * non-blank line imported, one subject each (a UTF-8 byte-order mark at
 * the file's start is no part of its first line), and held no NUL byte (a
 * NUL cannot be part of a JSON text, so a line holding one must be
 * refused, not cut); a CSV file it takes held no NUL byte either, and
 * had a header row (a file of blank lines, or a byte-order mark alone, has
 * none: refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fuzz.h"

static struct fuzz_register reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_register_new(&reg, "webshop");
	return 0;
}

static size_t nonblank_lines(const char *s, size_t n)
{
	size_t lines = 0;
	bool blank = true;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			lines += !blank;
			blank = true;
		} else if (!strchr(" \t\r", s[i])) {
			blank = false;
		}
	}
	return lines + !blank;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = {"account", "order", "accounting_entry"};
	if (size < 2)
		return 0;
	const char *kind = kinds[data[0] % 3];
	bool csv = data[0] & 4;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
	FILE *f = fmemopen((void *)text, len, "r");
	if (!f)
		abort();
	struct core_ctx c = {.store = reg.store, .tenant = reg.tenant};
	size_t count = 0;
	if (store_begin(reg.store))
		fuzz_fail("store_begin");
	int ret = cli_import_file(&c, kind, f, csv ? "fuzz.csv" : "fuzz.jsonl", csv, &count);
	store_rollback(reg.store);
	fclose(f);
	if (ret != CLI_OK && ret != CLI_REFUSED)
		fuzz_fail("import ended with exit code %d", ret);
	size_t lines = nonblank_lines(text + bom, len - bom);
	if (ret == CLI_OK && !csv && count != lines)
		fuzz_fail("import took %zu subjects from %zu non-blank lines", count, lines);
	if (ret == CLI_OK && memchr(text, '\0', len))
		fuzz_fail("import took a file holding a NUL byte");
	if (ret == CLI_OK && csv && !lines)
		fuzz_fail("import took a CSV file with no header row");
	return 0;
}
