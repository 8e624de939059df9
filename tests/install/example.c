#include <stdio.h>
#include <sipkit.h>

static const char msg_text[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

int main(void) {
  sipkit_header headers[SIPKIT_DEFAULT_HEADERS]; /* caller-owned storage */
  sipkit_msg msg;
  sipkit_error err;
  size_t len = sizeof msg_text - 1;

  sipkit_msg_init(&msg, headers, SIPKIT_DEFAULT_HEADERS);
  if (sipkit_parse(&msg, msg_text, len, 0, &err) != SIPKIT_EOK) {
    char why[256];
    sipkit_error_format(&err, msg_text, len, why, sizeof why);
    fprintf(stderr, "%s\n", why);
    return 1;
  }
  /* Spans are offsets into msg_text: nothing was copied. */
  printf("%.*s\n", (int)msg.call_id.len, SIPKIT_SPAN_PTR(msg_text, msg.call_id));
  return 0;
}
