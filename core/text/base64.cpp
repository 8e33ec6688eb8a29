#include "core/text/base64.hpp"

#include <openssl/evp.h>

namespace coibridge::core {

std::string base64_encode(std::string_view bytes) {
  // EVP_EncodeBlock writes no line breaks and a terminating NUL after the padded output.
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace coibridge::core
