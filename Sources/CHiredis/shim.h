#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

/* Swift cannot use hiredis's function-like macros or read the fixed-size
   `errstr` array usefully, so these accessors expose them as functions. */

static inline int chiredis_reply_string(void) { return REDIS_REPLY_STRING; }
static inline int chiredis_reply_array(void) { return REDIS_REPLY_ARRAY; }
static inline int chiredis_reply_integer(void) { return REDIS_REPLY_INTEGER; }
static inline int chiredis_reply_nil(void) { return REDIS_REPLY_NIL; }
static inline int chiredis_reply_status(void) { return REDIS_REPLY_STATUS; }
static inline int chiredis_reply_error(void) { return REDIS_REPLY_ERROR; }
static inline int chiredis_ok(void) { return REDIS_OK; }

/* The reader's error text, valid until the reader is fed or freed. */
static inline const char *chiredis_reader_error(redisReader *reader) {
    return reader->errstr;
}

/* Whether the reader hit a protocol error; it cannot be used afterwards. */
static inline int chiredis_reader_has_error(redisReader *reader) {
    return reader->err != 0;
}

#endif
