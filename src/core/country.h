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

#endif
