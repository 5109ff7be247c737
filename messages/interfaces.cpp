#include "messages/interfaces.hpp"

#include "messages/ids.hpp"

namespace payengine {

const order_registry_actor& engine_handles::shard_for(const std::string& order_id) const {
  return shards[shard_index(order_id, static_cast<uint32_t>(shards.size()))];
}

const storage_writer_actor& engine_handles::writer_for(const std::string& key) const {
  return writers[shard_index(key, static_cast<uint32_t>(writers.size()))];
}

} // namespace payengine
