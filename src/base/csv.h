/*
 * csv: the rule the CSV files meant for people share (the subject's export,
 * the record of processing activities, a tenant's export): a cell that a
 * spreadsheet would take for a formula (it begins with = + - @, a tab or a
 * carriage return) is written with a single quote before it, as OWASP's
 * guidance on CSV injection says, so that opening the file runs nothing.
 * The JSON forms of the same exports keep every value exactly; files meant
 * to be read back by privreg (the import's rejects) do not use this.
 */
#ifndef PRIVREG_CSV_H
#define PRIVREG_CSV_H

#include <stdbool.h>
#include <stddef.h>

/* True when the cell s (n bytes) must be written after a single quote. */
bool csv_formula(const char *s, size_t n);

#endif
