/*
 * country: ISO 3166-1 alpha-2 codes and the European Economic Area, which
 * decides whether a disclosure is an international transfer (GDPR ch. V).
 */
#ifndef PRIVREG_COUNTRY_H
#define PRIVREG_COUNTRY_H

#include <stdbool.h>

/* code is two upper-case letters. */
bool country_valid(const char *code);
bool country_in_eea(const char *code);
/* Whether the European Commission has an adequacy decision for the country
 * (the list and its date are in country.c); for some (the US) it covers only
 * recipients that take part in a framework: country_adequacy_needs_dpf. */
bool country_adequate(const char *code);
bool country_adequacy_needs_dpf(const char *code);

#endif
