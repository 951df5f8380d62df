// limited_key: the API key the fuzz targets check access with, limited to "qwen3:*" models.
#pragma once

#include "sluice/config.hpp"

namespace sluice::fuzz {

inline const ApiKey& limited_key() {
    static const ApiKey key = [] {
        ApiKey k;
        k.name = "phone";
        k.models = {"qwen3:*"};
        return k;
    }();
    return key;
}

}  // namespace sluice::fuzz
