/* country: static code lists (ISO 3166-1 alpha-2 officially assigned codes; EEA = EU 27 + IS, LI, NO;
 * the countries with a European Commission adequacy decision, GDPR Art. 45). */
#include "core/country.h"

#include <string.h>

static const char assigned[] =
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
	"BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
	"EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
	"HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
	"LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
	"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
	"TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

static const char eea[] =
	"AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO";

/*
 * The European Commission's adequacy decisions (Art. 45), as its page
 * "Adequacy decisions" listed them on 2026-12-01: Andorra, Argentina, Canada
 * (commercial organisations under PIPEDA), Faroe Islands, Guernsey, Israel,
 * Isle of Man, Japan, Jersey, New Zealand, Republic of Korea, Switzerland,
 * United Kingdom, Uruguay; and the United States for the participants of
 * the EU-US Data Privacy Framework only (country_adequacy_needs_dpf). The
 * European Patent Organisation has one too, but is no country. A change of
 * this list is a change of docs/policy.md too.
 */
static const char adequate[] = "AD AR CA FO GG IL IM JP JE NZ KR CH GB UY US";
static const char adequate_dpf[] = "US";

static bool in_list(const char *list, const char *code)
{
	if (strlen(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z')
		return false;
	for (const char *p = list; *p; p += p[2] ? 3 : 2)
		if (p[0] == code[0] && p[1] == code[1])
			return true;
	return false;
}

bool country_valid(const char *code) { return in_list(assigned, code); }
bool country_in_eea(const char *code) { return in_list(eea, code); }
bool country_adequate(const char *code) { return in_list(adequate, code); }
bool country_adequacy_needs_dpf(const char *code) { return in_list(adequate_dpf, code); }
