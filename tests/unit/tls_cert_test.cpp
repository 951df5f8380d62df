// tls_cert_test: the CA and server certificate `sluice cert` writes, checked as a TLS client would.
#include "sluice/tls_cert.hpp"

#include "sluice/c_handle.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace sluice {
namespace {

namespace fs = std::filesystem;

using Cert = Owned<X509, X509_free>;
using Key = Owned<EVP_PKEY, EVP_PKEY_free>;
using Store = Owned<X509_STORE, X509_STORE_free>;
using StoreContext = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;
using File = Owned<std::FILE, ::fclose>;

std::vector<Cert> read_certificates(const fs::path& path) {
    const File file(std::fopen(path.c_str(), "r"));
    std::vector<Cert> certs;
    while (file) {
        Cert cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        certs.push_back(std::move(cert));
    }
    ERR_clear_error();  // the end of the file reads as an error
    return certs;
}

Key read_key(const fs::path& path) {
    const File file(std::fopen(path.c_str(), "r"));
    return Key(file ? PEM_read_PrivateKey(file.get(), nullptr, nullptr, nullptr) : nullptr);
}

std::string contents(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

unsigned mode_of(const fs::path& path) {
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0 ? status.st_mode & 07777 : 0;
}

std::string common_name(X509* cert) {
    std::string name(256, '\0');
    const int size = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name.data(), 256);
    name.resize(size < 0 ? 0 : static_cast<std::size_t>(size));
    return name;
}

// What a TLS client trusting only ca.crt says of sluice.crt as the certificate of `host` (or of
// the address `ip`): "ok" or OpenSSL's reason. RFC 5280's strict checks are on.
std::string verify(const fs::path& dir, const std::string& host, const std::string& ip = {}) {
    const std::vector<Cert> chain = read_certificates(dir / "sluice.crt");
    const std::vector<Cert> ca = read_certificates(dir / "ca.crt");
    if (chain.empty() || ca.empty()) return "no certificate";
    const Store store(X509_STORE_new());
    const StoreContext context(X509_STORE_CTX_new());
    if (X509_STORE_add_cert(store.get(), ca[0].get()) != 1 ||
        X509_STORE_CTX_init(context.get(), store.get(), chain[0].get(), nullptr) != 1) {
        return "cannot set up the verification";
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (!host.empty()) X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (!ip.empty()) X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
    if (X509_verify_cert(context.get()) == 1) return "ok";
    return X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
}

std::string error_of(const CertRequest& request) {
    try {
        make_certificate(request);
    } catch (const std::runtime_error& error) {
        return error.what();
    }
    return "no error";
}

class TlsCert : public testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(testing::TempDir()) /
               ("sluice-cert-" + std::to_string(::getpid()) + "-" + testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    CertRequest request() const {
        return CertRequest{dir_ / "certs", {"gpu-box", "gpu-box.local", "localhost"}, {"192.168.1.20", "::1"}};
    }

    fs::path dir_;
};

TEST_F(TlsCert, LeafVerifiesForEveryNameAndAddressGiven) {
    const CertFiles files = make_certificate(request());
    EXPECT_TRUE(files.ca_created);
    for (const std::string host : {"gpu-box", "GPU-box.local", "localhost"}) EXPECT_EQ(verify(files.cert.parent_path(), host), "ok") << host;
    for (const std::string ip : {"192.168.1.20", "::1", "0:0::1"}) EXPECT_EQ(verify(files.cert.parent_path(), {}, ip), "ok") << ip;
}

TEST_F(TlsCert, LeafFailsForANameOrAddressNotGiven) {
    const fs::path dir = make_certificate(request()).cert.parent_path();
    EXPECT_EQ(verify(dir, "other.example"), X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH));
    EXPECT_EQ(verify(dir, "box.gpu-box.local"), X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH));
    EXPECT_EQ(verify(dir, {}, "192.168.1.21"), X509_verify_cert_error_string(X509_V_ERR_IP_ADDRESS_MISMATCH));
    EXPECT_EQ(verify(dir, {}, "127.0.0.1"), X509_verify_cert_error_string(X509_V_ERR_IP_ADDRESS_MISMATCH));
}

TEST_F(TlsCert, KeysMatchTheirCertificates) {
    const CertFiles files = make_certificate(request());
    const std::vector<Cert> chain = read_certificates(files.cert);
    const std::vector<Cert> ca = read_certificates(files.ca_cert);
    const Key key = read_key(files.key), ca_key = read_key(files.ca_key);
    ASSERT_TRUE(key && ca_key && !chain.empty() && !ca.empty());
    EXPECT_EQ(X509_check_private_key(chain[0].get(), key.get()), 1);
    EXPECT_EQ(X509_check_private_key(ca[0].get(), ca_key.get()), 1);
    EXPECT_EQ(X509_check_private_key(chain[0].get(), ca_key.get()), 0);
    ERR_clear_error();
}

TEST_F(TlsCert, KeysAre0600AndCertificates0644WhateverTheUmask) {
    const mode_t umask = ::umask(077);
    const CertFiles files = make_certificate(request());
    ::umask(umask);
    EXPECT_EQ(mode_of(files.key), 0600u);
    EXPECT_EQ(mode_of(files.ca_key), 0600u);
    EXPECT_EQ(mode_of(files.cert), 0644u);
    EXPECT_EQ(mode_of(files.ca_cert), 0644u);
    EXPECT_EQ(mode_of(files.cert.parent_path()), 0755u);
    EXPECT_EQ(std::distance(fs::directory_iterator(files.cert.parent_path()), fs::directory_iterator()), 4)
        << "no temporary file is left behind";
}

TEST_F(TlsCert, ChainIsTheLeafThenTheCa) {
    const CertFiles files = make_certificate(request());
    const std::vector<Cert> chain = read_certificates(files.cert);
    const std::vector<Cert> ca = read_certificates(files.ca_cert);
    ASSERT_EQ(chain.size(), 2u);
    ASSERT_EQ(ca.size(), 1u);
    EXPECT_EQ(common_name(chain[0].get()), "gpu-box");
    EXPECT_EQ(X509_cmp(chain[1].get(), ca[0].get()), 0);
    EXPECT_EQ(X509_check_issued(ca[0].get(), chain[0].get()), X509_V_OK);
    EXPECT_EQ(common_name(ca[0].get()).rfind("sluice local CA", 0), 0u) << common_name(ca[0].get());
}

TEST_F(TlsCert, ExtensionsAreThoseOfACaAndOfAServer) {
    const CertFiles files = make_certificate(request());
    const std::vector<Cert> chain = read_certificates(files.cert);
    ASSERT_EQ(chain.size(), 2u);
    X509* leaf = chain[0].get();
    X509* ca = chain[1].get();
    EXPECT_EQ(X509_check_ca(leaf), 0);
    EXPECT_EQ(X509_get_key_usage(leaf), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
    EXPECT_EQ(X509_get_extended_key_usage(leaf), static_cast<uint32_t>(XKU_SSL_SERVER));
    EXPECT_EQ(X509_check_ca(ca), 1);
    EXPECT_EQ(X509_get_pathlen(ca), 0);
    EXPECT_EQ(X509_get_key_usage(ca), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_NE(X509_get0_subject_key_id(ca), nullptr);
    EXPECT_NE(X509_get0_authority_key_id(leaf), nullptr);
    EXPECT_EQ(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
    const Owned<BIGNUM, BN_free> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr));
    EXPECT_GT(BN_num_bits(serial.get()), 64) << "a random 128-bit serial";
}

TEST_F(TlsCert, LeafIsValidForTheDaysAskedFromAnHourAgo) {
    CertRequest asked = request();
    asked.days = 30;
    const std::vector<Cert> chain = read_certificates(make_certificate(asked).cert);
    ASSERT_FALSE(chain.empty());
    int days = 0, seconds = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(chain[0].get()), X509_get0_notAfter(chain[0].get())), 1);
    EXPECT_EQ(days, 30);
    EXPECT_EQ(seconds, 0);
    int behind = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &behind, X509_get0_notBefore(chain[0].get()), nullptr), 1);
    EXPECT_EQ(days, 0);
    EXPECT_NEAR(behind, 3600, 60);
}

TEST_F(TlsCert, SecondRunKeepsTheCaAndRenewsTheCertificate) {
    const CertFiles first = make_certificate(request());
    const std::string ca_cert = contents(first.ca_cert), ca_key = contents(first.ca_key), cert = contents(first.cert),
                      key = contents(first.key);
    const CertFiles second = make_certificate(request());
    EXPECT_FALSE(second.ca_created);
    EXPECT_EQ(contents(second.ca_cert), ca_cert);
    EXPECT_EQ(contents(second.ca_key), ca_key);
    EXPECT_NE(contents(second.cert), cert);
    EXPECT_NE(contents(second.key), key);
    EXPECT_EQ(verify(second.cert.parent_path(), "gpu-box"), "ok");
}

TEST_F(TlsCert, HalfACaIsNeverReplaced) {
    const CertFiles files = make_certificate(request());
    const std::string ca_cert = contents(files.ca_cert);
    fs::remove(files.ca_key);
    const std::string message = error_of(request());
    EXPECT_NE(message.find(files.ca_key.string()), std::string::npos) << message;
    EXPECT_EQ(contents(files.ca_cert), ca_cert);

    std::ofstream(files.ca_key) << "not a key\n";
    const std::string unreadable = error_of(request());
    EXPECT_NE(unreadable.find(files.ca_key.string()), std::string::npos) << unreadable;
    EXPECT_EQ(contents(files.ca_cert), ca_cert);
}

TEST_F(TlsCert, DirectoryThatCannotBeCreatedIsNamed) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "plain") << "a file, not a directory\n";
    CertRequest asked = request();
    asked.dir = dir_ / "plain" / "certs";
    const std::string message = error_of(asked);
    EXPECT_NE(message.find(asked.dir.string()), std::string::npos) << message;
}

TEST_F(TlsCert, InvalidNamesAndAddressesAreNamed) {
    for (const std::string address : {"192.168.1.300", "fe80::1%eth0", "gpu-box", ""}) {
        CertRequest asked = request();
        asked.ip_addresses.push_back(address);
        const std::string message = error_of(asked);
        EXPECT_NE(message.find("not an IP address: \"" + address + "\""), std::string::npos) << message;
    }
    for (const std::string name : {"gpu_box", "gpu box", "box,IP:10.0.0.1", "box:1", ""}) {
        CertRequest asked = request();
        asked.dns_names.push_back(name);
        const std::string message = error_of(asked);
        EXPECT_NE(message.find("not a DNS name: \"" + name + "\""), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(request().dir)) << "nothing is written for an invalid request";
}

TEST_F(TlsCert, NoNamesAtAllIsAnError) {
    CertRequest asked = request();
    asked.dns_names.clear();
    asked.ip_addresses.clear();
    EXPECT_NE(error_of(asked).find("no names"), std::string::npos) << error_of(asked);
}

TEST_F(TlsCert, AddressesAloneAreEnough) {
    CertRequest asked = request();
    asked.dns_names.clear();
    const std::vector<Cert> chain = read_certificates(make_certificate(asked).cert);
    ASSERT_FALSE(chain.empty());
    EXPECT_EQ(common_name(chain[0].get()), "192.168.1.20");
    EXPECT_EQ(verify(dir_ / "certs", {}, "192.168.1.20"), "ok");
}

TEST_F(TlsCert, DefaultsNameThisMachineAndMakeAWorkingCertificate) {
    const std::vector<std::string> names = default_dns_names();
    const std::vector<std::string> addresses = default_ip_addresses();
    EXPECT_NE(std::find(names.begin(), names.end(), "localhost"), names.end());
    ASSERT_GE(addresses.size(), 2u);
    EXPECT_EQ(addresses[0], "127.0.0.1");
    EXPECT_EQ(addresses[1], "::1");
    for (const auto* list : {&names, &addresses}) {
        std::vector<std::string> sorted = *list;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "no duplicates";
    }
    EXPECT_EQ(default_dns_names(), names) << "a stable order";
    EXPECT_EQ(default_ip_addresses(), addresses) << "a stable order";

    const CertFiles files = make_certificate(CertRequest{dir_, names, addresses});
    EXPECT_EQ(verify(dir_, "localhost"), "ok");
    EXPECT_EQ(verify(dir_, names.front()), "ok");
    EXPECT_EQ(verify(dir_, {}, "127.0.0.1"), "ok");
    EXPECT_EQ(verify(dir_, {}, addresses.back()), "ok");
}

}  // namespace
}  // namespace sluice
