/*
 * Unit tests for the users model's value checks: EmailStr-like email
 * validation with email-validator's reasons, IPvAnyAddress-like IP parsing
 * and normalisation, and str length in characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "web/validate.h"

static bool email_ok(const char *s)
{
    char reason[256] = "";
    return web_email_valid(s, strlen(s), reason, sizeof reason);
}

static const char *email_reason(const char *s)
{
    static char reason[256];
    reason[0] = '\0';
    assert_false(web_email_valid(s, strlen(s), reason, sizeof reason));
    return reason;
}

static void test_email_accepts_ordinary_addresses(void **state)
{
    (void)state;
    const char *good[] = {
        "sbartlett@sanchez-zimmerman.com",
        "a@b.co",
        "first.last+tag@sub.example.org",
        "o'brien@example.ie",
        "x_y-z@a-b.io",
        "user@xn--bcher-kva.example",
        "\xc3\xa9milie@exemple.fr",
        "a!#$%&*/=?^`{|}~@example.com",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(email_ok(good[i]));
}

static void test_email_reasons(void **state)
{
    (void)state;
    assert_string_equal(email_reason("not-an-email"), "An email address must have an @-sign.");
    assert_string_equal(email_reason("@example.com"), "There must be something before the @-sign.");
    assert_string_equal(email_reason("user@"), "There must be something after the @-sign.");
    assert_string_equal(email_reason("user@localhost"),
                        "The part after the @-sign is not valid. It should have a period.");
    assert_string_equal(email_reason("a b@example.com"),
                        "The email address contains invalid characters before the @-sign: SPACE.");
    assert_string_equal(email_reason("a@b@example.com"),
                        "The email address contains invalid characters before the @-sign: '@'.");
    assert_string_equal(email_reason("a\"b(c@example.com"),
                        "The email address contains invalid characters before the @-sign: '\"', "
                        "'('.");
    assert_string_equal(email_reason("user@exa mple.com"),
                        "The part after the @-sign contains invalid characters: SPACE.");
    assert_string_equal(email_reason("user@exa_mple.com"),
                        "The part after the @-sign contains invalid characters: '_'.");
    assert_string_equal(email_reason(".user@example.com"),
                        "An email address cannot start with a period.");
    assert_string_equal(email_reason("user.@example.com"),
                        "An email address cannot have a period immediately before the @-sign.");
    assert_string_equal(email_reason("us..er@example.com"),
                        "An email address cannot have two periods in a row.");
    assert_string_equal(email_reason("user@.example.com"),
                        "An email address cannot have a period immediately after the @-sign.");
    assert_string_equal(email_reason("user@example.com."),
                        "An email address cannot end with a period.");
    assert_string_equal(email_reason("user@-example.com"),
                        "An email address cannot have a hyphen immediately after the @-sign.");
    assert_string_equal(email_reason("user@example.com-"),
                        "An email address cannot end with a hyphen.");
    assert_string_equal(
        email_reason("user@1.2"),
        "The part after the @-sign is not valid. It is not within a valid top-level domain.");
}

static void test_email_length_limits(void **state)
{
    (void)state;
    char local[80], addr[400];
    memset(local, 'a', 64);
    local[64] = '\0';
    snprintf(addr, sizeof addr, "%s@example.com", local);
    assert_true(email_ok(addr));
    local[64] = 'a', local[65] = '\0';
    snprintf(addr, sizeof addr, "%s@example.com", local);
    assert_string_equal(email_reason(addr),
                        "The email address is too long before the @-sign (1 character too many).");
    /* a 64-character label is too long; 63 is fine */
    char label[70];
    memset(label, 'b', 64);
    label[64] = '\0';
    snprintf(addr, sizeof addr, "u@%s.com", label);
    assert_string_equal(email_reason(addr), "After the @-sign, periods cannot be separated by so "
                                            "many characters (1 character too many).");
    label[63] = '\0';
    snprintf(addr, sizeof addr, "u@%s.com", label);
    assert_true(email_ok(addr));
    /* 60 + 1 + (63*3 + 2 + 3) = 255 characters: one more than the 254 allowed */
    local[60] = '\0';
    snprintf(addr, sizeof addr, "%s@%s.%s.%s.co", local, label, label, label);
    assert_int_equal(strlen(addr), 255);
    assert_string_equal(email_reason(addr),
                        "The email address is too long (1 character too many).");
    addr[strlen(addr) - 1] = '\0'; /* "...c": 254, and the top-level domain still a name */
    assert_true(email_ok(addr));
}

static void test_ip_accepts_and_normalises(void **state)
{
    (void)state;
    char out[WEB_IP_MAX];
    struct {
        const char *in, *out;
    } cases[] = {
        {"172.26.121.155", "172.26.121.155"},    {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"},  {"::1", "::1"},
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"}, {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
        {"fe80::1%eth0", "fe80::1%eth0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(web_ip_normalize(cases[i].in, strlen(cases[i].in), out));
        assert_string_equal(out, cases[i].out);
    }
}

static void test_ip_rejects(void **state)
{
    (void)state;
    char out[WEB_IP_MAX];
    const char *bad[] = {"",         "1.2.3",    "1.2.3.4.5",    "256.1.1.1", "01.2.3.4",
                         " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/24",   "abc",       "1:2:3",
                         "fe80::1%", "::1%a%b",  "1.2.3.4%eth0", "::g",       "1..2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(web_ip_normalize(bad[i], strlen(bad[i]), out));
    char huge[200];
    memset(huge, '1', sizeof huge);
    assert_false(web_ip_normalize(huge, sizeof huge, out));
    assert_false(web_ip_normalize("1.2.3.4\0x", 9, out)); /* an embedded NUL is not hidden */
}

static void test_utf8_chars(void **state)
{
    (void)state;
    assert_int_equal(web_utf8_chars("", 0), 0);
    assert_int_equal(web_utf8_chars("abc", 3), 3);
    assert_int_equal(web_utf8_chars("\xc3\xa9t\xc3\xa9", 5), 3);        /* été */
    assert_int_equal(web_utf8_chars("\xf0\x9f\x98\x80!", 5), 2);        /* emoji + ! */
    assert_int_equal(web_utf8_chars("\xe6\xb9\x96\xe8\xbe\xb9", 6), 2); /* 湖边 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_accepts_ordinary_addresses),
        cmocka_unit_test(test_email_reasons),
        cmocka_unit_test(test_email_length_limits),
        cmocka_unit_test(test_ip_accepts_and_normalises),
        cmocka_unit_test(test_ip_rejects),
        cmocka_unit_test(test_utf8_chars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
