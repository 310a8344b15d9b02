/*
 * users_internal.h - the word lists behind gen_users (users_names.c).
 *
 * Weights are relative frequencies (approximate US figures: census surname
 * counts, common given names across generations, city populations). Shared
 * with the unit tests, which check that generated values come from here.
 */
#ifndef LAKEAPI_GEN_USERS_INTERNAL_H
#define LAKEAPI_GEN_USERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *text;
    uint32_t weight;
} users_word_t;

typedef struct {
    const char *city;
    const char *state; /* USPS abbreviation */
    uint16_t zip3;     /* a real ZIP prefix of the city; the last two digits are drawn */
    uint16_t weight;
} users_city_t;

extern const users_word_t users_first_names[];
extern const size_t users_first_names_count;
extern const users_word_t users_last_names[];
extern const size_t users_last_names_count;
extern const users_word_t users_street_names[];
extern const size_t users_street_names_count;
extern const users_word_t users_street_suffixes[];
extern const size_t users_street_suffixes_count;
extern const users_word_t users_email_domains[];
extern const size_t users_email_domains_count;
extern const users_city_t users_cities[];
extern const size_t users_cities_count;

#endif
