// tls_cert: `sluice cert`'s work: a small local CA and a server certificate for this machine's
// names, signed by it, so a user without a certificate has working HTTPS in two minutes. The CA
// is kept across runs (devices that were told to trust it keep trusting) and the server
// certificate is made afresh each time (renewal is running the command again).
//
// Files in the directory: ca.crt (the CA certificate to install on devices, 0644), ca.key (0600),
// sluice.crt (the server certificate then the CA's, PEM, 0644), sluice.key (0600). Each is written
// to a new file (O_CREAT|O_EXCL, its final mode from the start) and renamed into place, so a key
// is never readable by others, even briefly, and a reader never sees half a file.
//
// Keys are EC P-256, signatures SHA-256. The CA lives 10 years with pathlen:0; the server
// certificate `days` (397 by default: Apple refuses TLS server certificates valid longer than
// 398 days), carrying every name and address as a subjectAltName.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sluice {

struct CertRequest {
    std::filesystem::path dir;              // created if missing (0755)
    std::vector<std::string> dns_names;     // the first is also the subject's CN; "*.x" allowed
    std::vector<std::string> ip_addresses;  // IPv4 or IPv6: "192.168.1.20", "::1"
    int days = 397;                         // from notBefore (an hour ago) to notAfter
};

struct CertFiles {
    std::filesystem::path ca_cert, ca_key, cert, key;
    bool ca_created = false;  // false: the CA already in `dir` signed the new certificate
};

// Keeps the CA in request.dir (ca.crt and ca.key that load and match) or makes one when neither
// file exists, then writes a fresh server key and certificate signed by it. Throws
// std::runtime_error saying which file or name and what failed: an invalid name or address, a
// directory or file that cannot be written (with the errno text), a CA half present, unreadable
// or expired (it is never replaced silently: devices trust it).
CertFiles make_certificate(const CertRequest& request);

// What a certificate for this machine carries by default. Names: the host name (lowercase, when
// it is a valid DNS name), its first label + ".local" (mDNS), "localhost". Addresses: 127.0.0.1,
// ::1, then every interface's IPv4 and IPv6 address but link-local ones (they need a zone, which
// a certificate cannot name). Deduplicated, in a stable order.
std::vector<std::string> default_dns_names();
std::vector<std::string> default_ip_addresses();

}  // namespace sluice
