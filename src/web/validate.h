/*
 * validate.h - pure checks for the value types the users model declares
 * (pydantic's EmailStr and IPvAnyAddress, str lengths), kept free of HTTP
 * and JSON so they can be unit-tested alone.
 */
#ifndef LAKEAPI_WEB_VALIDATE_H
#define LAKEAPI_WEB_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a normalised address: IPv6 text (45) + '%' + a zone id. */
#define WEB_IP_MAX 96

/* Characters (code points) in valid UTF-8 s[0..len): what Python's len() says. */
size_t web_utf8_chars(const char *s, size_t len);

/*
 * Checks s[0..len) as an email address the way pydantic's EmailStr does
 * (email-validator without DNS): one local part and one domain around the
 * last '@', dot-atom local part, domain of letters/digits/hyphens with a dot,
 * RFC length limits; non-ASCII (internationalised) text is accepted. The
 * address itself is kept as given. On failure writes email-validator's
 * reason ("An email address must have an @-sign.") into reason.
 */
bool web_email_valid(const char *s, size_t len, char *reason, size_t reason_len);

/*
 * Checks s[0..len) as an IPv4 or IPv6 address as Python's ipaddress module
 * does (no blanks, no leading zeros in IPv4, an optional IPv6 "%zone") and
 * writes its canonical text (IPv6 compressed, lower case) into out, which
 * holds WEB_IP_MAX bytes.
 */
bool web_ip_normalize(const char *s, size_t len, char out[WEB_IP_MAX]);

#endif
