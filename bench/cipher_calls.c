/* Why libssh2 1.10 uploads cost more CPU than OpenSSH (docs/performance.md, transfer).
 *
 * libssh2 1.10 encrypts each SSH packet 16 bytes (one AES block) per EVP_Cipher call; OpenSSH
 * and libssh2 1.11 pass the whole packet. This times both ways of encrypting 1 GiB with
 * aes128-ctr (the cipher cutover negotiates), and the hmac-sha2-256 / hmac-sha1 MACs over
 * 32 KiB packets, on this machine's OpenSSL.
 *
 *   cc -O2 bench/cipher_calls.c -o /tmp/cipher_calls -lcrypto && /tmp/cipher_calls
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
  static unsigned char packet[32768];
  unsigned char key[16] = {1}, iv[16] = {2}, block[16], md[32];
  unsigned int md_len;
  const long gib = 1L << 30;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  EVP_CipherInit(ctx, EVP_aes_128_ctr(), key, iv, 1);

  double t = now();
  for (long n = 0; n < gib; n += sizeof packet)
    for (size_t i = 0; i < sizeof packet; i += 16) {  /* as libssh2 1.10 does */
      EVP_Cipher(ctx, block, packet + i, 16);
      memcpy(packet + i, block, 16);
    }
  printf("aes128-ctr, 16 bytes per call:  %.2f s/GiB\n", now() - t);

  t = now();
  for (long n = 0; n < gib; n += sizeof packet) EVP_Cipher(ctx, packet, packet, sizeof packet);
  printf("aes128-ctr, a packet per call:  %.2f s/GiB\n", now() - t);

  t = now();
  for (long n = 0; n < gib; n += sizeof packet) HMAC(EVP_sha256(), key, 16, packet, sizeof packet, md, &md_len);
  printf("hmac-sha2-256:                  %.2f s/GiB\n", now() - t);

  t = now();
  for (long n = 0; n < gib; n += sizeof packet) HMAC(EVP_sha1(), key, 16, packet, sizeof packet, md, &md_len);
  printf("hmac-sha1:                      %.2f s/GiB\n", now() - t);
  EVP_CIPHER_CTX_free(ctx);
  return 0;
}
