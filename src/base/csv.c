/* csv: the cell rule of CSV files meant for people (see csv.h). */
#include "base/csv.h"

bool csv_formula(const char *s, size_t n)
{
	return n && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r');
}
