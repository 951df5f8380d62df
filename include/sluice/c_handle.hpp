// c_handle: C objects (OpenSSL's, libc's) owned by a unique_ptr that calls their own free
// function, so every error path frees what it made. Owned<X509, X509_free> is an owning X509*.
#pragma once

#include <memory>

namespace sluice {

template <auto Free>
struct CFree {
    template <class T>
    void operator()(T* pointer) const { Free(pointer); }
};

template <class T, auto Free>
using Owned = std::unique_ptr<T, CFree<Free>>;

}  // namespace sluice
