// tls_cert: a local CA and a server certificate signed by it, with OpenSSL 3's EVP and X509 APIs.
#include "sluice/tls_cert.hpp"

#include "sluice/c_handle.hpp"

#include "sluice/ascii.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace sluice {

namespace fs = std::filesystem;

namespace {

using Key = Owned<EVP_PKEY, EVP_PKEY_free>;
using Cert = Owned<X509, X509_free>;
using Bio = Owned<BIO, BIO_free_all>;
using Extension = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using Bignum = Owned<BIGNUM, BN_free>;
using Integer = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using File = Owned<std::FILE, std::fclose>;

constexpr int ca_days = 3650;
// Certificates start an hour ago, so a device whose clock is a little behind accepts a new one.
constexpr long backdate_seconds = 3600;

struct Authority {
    Cert cert;
    Key key;
    bool created = false;
};

// OpenSSL's reason for the last failure (its queue emptied), after what we were doing.
std::runtime_error openssl_error(const std::string& what) {
    const unsigned long code = ERR_peek_last_error();
    std::array<char, 256> reason{};
    ERR_error_string_n(code, reason.data(), reason.size());
    ERR_clear_error();
    return std::runtime_error(what + ": " + (code != 0 ? reason.data() : "unknown OpenSSL error"));
}

void require(bool ok, const std::string& what) {
    if (!ok) throw openssl_error(what);
}

std::runtime_error file_error(std::string_view what, const fs::path& path, int error) {
    return std::runtime_error(std::string(what) + " " + path.string() + ": " + std::strerror(error));
}

bool is_dns_name(std::string_view name) {
    return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
        return (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '*';
    });
}

bool is_ip_address(const std::string& text) {
    std::array<unsigned char, sizeof(in6_addr)> bytes{};
    return ::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1 || ::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1;
}

void validate(const CertRequest& request) {
    if (request.dir.empty()) throw std::runtime_error("no directory given for the certificate files");
    if (request.dns_names.empty() && request.ip_addresses.empty()) {
        throw std::runtime_error("no names for the certificate: give at least one DNS name or IP address");
    }
    for (const std::string& name : request.dns_names) {
        if (!is_dns_name(name)) {
            throw std::runtime_error("not a DNS name: \"" + name + "\" (letters, digits, '.', '-' and '*' only)");
        }
    }
    for (const std::string& address : request.ip_addresses) {
        if (!is_ip_address(address)) throw std::runtime_error("not an IP address: \"" + address + "\"");
    }
    if (request.days < 1) throw std::runtime_error("the certificate must be valid for at least 1 day, not " + std::to_string(request.days));
}

std::string this_hostname() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) return {};
    return ascii_lowercase(name.data());
}

void add_unique(std::vector<std::string>& list, std::string item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(std::move(item));
}

Key new_key() {
    Key key(EVP_EC_gen("P-256"));
    require(key != nullptr, "cannot make an EC P-256 key");
    return key;
}

// A certificate for `key`'s public half named `common_name` (cut to X.509's 64 characters: only
// the subjectAltName counts for TLS), valid `days` from an hour ago, with a random 128-bit serial.
Cert new_certificate(EVP_PKEY* key, const std::string& common_name, int days) {
    Cert cert(X509_new());
    Bignum random(BN_new());
    require(cert && random && BN_rand(random.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
            "cannot make a serial number");
    const Integer serial(BN_to_ASN1_INTEGER(random.get(), nullptr));
    const std::string name = common_name.substr(0, ub_common_name);
    require(serial && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
                X509_set_serialNumber(cert.get(), serial.get()) == 1 &&
                X509_gmtime_adj(X509_getm_notBefore(cert.get()), -backdate_seconds) != nullptr &&
                X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, -backdate_seconds, nullptr) != nullptr &&
                X509_NAME_add_entry_by_NID(X509_get_subject_name(cert.get()), NID_commonName, MBSTRING_UTF8,
                                           reinterpret_cast<const unsigned char*>(name.data()),
                                           static_cast<int>(name.size()), -1, 0) == 1 &&
                X509_set_pubkey(cert.get(), key) == 1,
            "cannot fill in the certificate for " + common_name);
    return cert;
}

// One extension written as in openssl.cnf ("critical,CA:TRUE"), resolved against the issuer
// (authorityKeyIdentifier) and the certificate itself (subjectKeyIdentifier).
void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    const Extension extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
    require(extension && X509_add_ext(cert, extension.get(), -1) == 1,
            std::string("cannot add ") + OBJ_nid2ln(nid) + " " + value);
}

void sign(X509* cert, X509* issuer, EVP_PKEY* issuer_key) {
    require(X509_set_issuer_name(cert, X509_get_subject_name(issuer)) == 1 &&
                X509_sign(cert, issuer_key, EVP_sha256()) > 0,
            "cannot sign the certificate");
}

template <class T, class Write>
std::string pem(T* object, Write write) {
    const Bio bio(BIO_new(BIO_s_mem()));
    require(bio && write(bio.get(), object) == 1, "cannot encode as PEM");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}
std::string pem(X509* cert) { return pem(cert, PEM_write_bio_X509); }
// PKCS#8, unencrypted: what servers (sluice, nginx, Caddy) load without a passphrase prompt.
std::string pem(EVP_PKEY* key) {
    return pem(key, [](BIO* bio, EVP_PKEY* k) { return PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr); });
}

// `bytes` to `path` through a new file beside it, renamed over it. The new file is made with
// O_EXCL and `mode` from the start, so a key is never readable by others and nobody else's file
// is written through; fchmod then gives certificates 0644 whatever the umask.
void write_file(const fs::path& path, std::string_view bytes, mode_t mode) {
    const fs::path temporary = path.string() + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) throw file_error("cannot create", temporary, errno);
    int error = ::fchmod(fd, mode) == 0 ? 0 : errno;
    for (std::size_t done = 0; error == 0 && done < bytes.size();) {
        const ssize_t written = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (written > 0) done += static_cast<std::size_t>(written);
        else if (written == 0 || errno != EINTR) error = written == 0 ? EIO : errno;
    }
    if (error == 0 && ::fsync(fd) != 0) error = errno;
    if (::close(fd) != 0 && error == 0) error = errno;
    if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
    if (error != 0) {
        ::unlink(temporary.c_str());
        throw file_error("cannot write", path, error);
    }
}

File open_for_reading(const fs::path& path) {
    File file(std::fopen(path.c_str(), "r"));
    if (!file) throw file_error("cannot read", path, errno);
    return file;
}

bool file_exists(const fs::path& path) {
    std::error_code error;
    const bool found = fs::exists(path, error);
    if (error) throw file_error("cannot look for", path, error.value());
    return found;
}

// The CA already in the directory, checked; never replaced silently, since devices trust it.
Authority load_authority(const fs::path& cert_path, const fs::path& key_path) {
    const std::string remedy = ": remove " + cert_path.string() + " and " + key_path.string() +
                               " to make a new CA (devices must then be given the new ca.crt)";
    Authority ca{Cert(PEM_read_X509(open_for_reading(cert_path).get(), nullptr, nullptr, nullptr)), nullptr};
    require(ca.cert != nullptr, cert_path.string() + " is not a PEM certificate");
    // No passphrase prompt on the terminal: a passphrase-protected key is an error like any other.
    const auto no_passphrase = [](char*, int, int, void*) { return 0; };
    ca.key.reset(PEM_read_PrivateKey(open_for_reading(key_path).get(), nullptr, no_passphrase, nullptr));
    require(ca.key != nullptr, key_path.string() + " is not an unencrypted PEM private key");
    if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error(key_path.string() + " is not the key of " + cert_path.string() + remedy);
    }
    if (X509_check_ca(ca.cert.get()) == 0) throw std::runtime_error(cert_path.string() + " is not a CA certificate" + remedy);
    if (X509_cmp_current_time(X509_get0_notAfter(ca.cert.get())) <= 0) {
        throw std::runtime_error(cert_path.string() + " has expired" + remedy);
    }
    return ca;
}

Authority make_authority(const fs::path& cert_path, const fs::path& key_path) {
    Authority ca{nullptr, new_key(), true};
    const std::string hostname = this_hostname();
    ca.cert = new_certificate(ca.key.get(), hostname.empty() ? "sluice local CA" : "sluice local CA (" + hostname + ")", ca_days);
    X509* cert = ca.cert.get();
    add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert, cert, NID_subject_key_identifier, "hash");
    sign(cert, cert, ca.key.get());
    write_file(key_path, pem(ca.key.get()), 0600);
    write_file(cert_path, pem(cert), 0644);
    return ca;
}

}  // namespace

CertFiles make_certificate(const CertRequest& request) {
    validate(request);
    const fs::path& dir = request.dir;
    CertFiles files{dir / "ca.crt", dir / "ca.key", dir / "sluice.crt", dir / "sluice.key"};
    std::error_code error;
    if (fs::create_directories(dir, error)) fs::permissions(dir, fs::perms(0755), error);
    if (error) throw file_error("cannot create the directory", dir, error.value());

    const bool has_cert = file_exists(files.ca_cert), has_key = file_exists(files.ca_key);
    if (has_cert != has_key) {
        const fs::path& missing = has_cert ? files.ca_key : files.ca_cert;
        throw std::runtime_error(missing.string() + " is missing while " + (has_cert ? files.ca_cert : files.ca_key).string() +
                                 " is there: put it back, or remove both to make a new CA (devices must then be given the new ca.crt)");
    }
    const Authority ca = has_cert ? load_authority(files.ca_cert, files.ca_key) : make_authority(files.ca_cert, files.ca_key);
    files.ca_created = ca.created;

    const Key key = new_key();
    const std::string& common_name = request.dns_names.empty() ? request.ip_addresses.front() : request.dns_names.front();
    const Cert cert = new_certificate(key.get(), common_name, request.days);
    std::vector<std::string> alt_names;  // validated above: no ',' or ':' can confuse the syntax
    for (const std::string& name : request.dns_names) alt_names.push_back("DNS:" + name);
    for (const std::string& address : request.ip_addresses) alt_names.push_back("IP:" + address);
    add_extension(cert.get(), ca.cert.get(), NID_basic_constraints, "CA:FALSE");
    add_extension(cert.get(), ca.cert.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), ca.cert.get(), NID_subject_alt_name, join(alt_names, ","));
    add_extension(cert.get(), ca.cert.get(), NID_subject_key_identifier, "hash");
    add_extension(cert.get(), ca.cert.get(), NID_authority_key_identifier, "keyid:always");
    sign(cert.get(), ca.cert.get(), ca.key.get());
    write_file(files.key, pem(key.get()), 0600);
    write_file(files.cert, pem(cert.get()) + pem(ca.cert.get()), 0644);
    return files;
}

std::vector<std::string> default_dns_names() {
    std::vector<std::string> names;
    const std::string hostname = this_hostname();
    if (is_dns_name(hostname) && hostname.find('*') == std::string::npos) {
        add_unique(names, hostname);
        const std::string label = hostname.substr(0, hostname.find('.'));
        if (!label.empty() && label != "localhost") add_unique(names, label + ".local");
    }
    add_unique(names, "localhost");
    return names;
}

std::vector<std::string> default_ip_addresses() {
    std::vector<std::string> addresses{"127.0.0.1", "::1"};
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return addresses;
    const Owned<ifaddrs, ::freeifaddrs> owner(list);
    for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr) continue;
        std::array<char, INET6_ADDRSTRLEN> text{};
        if (i->ifa_addr->sa_family == AF_INET) {
            ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, text.data(), text.size());
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const in6_addr& address = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(&address) || IN6_IS_ADDR_V4MAPPED(&address)) continue;
            ::inet_ntop(AF_INET6, &address, text.data(), text.size());
        }
        if (text[0] != '\0') add_unique(addresses, text.data());
    }
    return addresses;
}

}  // namespace sluice
