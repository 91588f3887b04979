#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>

/* XN_FLAG_RFC2253 is a macro expression with casts, which Swift does not import. */
static inline unsigned long shim_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253; }
