#include "proxy/server/session_store.h"

#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace realip::server {
namespace {

// Stands in for a session: the store only sees its size and alignment.
struct Obj {
  int64_t id;
  char pad[344];
};

Obj* Make(SlotStore& store, int64_t id) {
  Obj* o = new (store.Allocate()) Obj{id, {}};
  store.Add(o);
  return o;
}

std::vector<int64_t> Ids(const SlotStore& store) {
  std::vector<int64_t> ids;
  for (void* p : store.All()) ids.push_back(static_cast<Obj*>(p)->id);
  return ids;
}

TEST(SlotStoreTest, SlotIsTheLinksAndTheObject) {
  SlotStore store(sizeof(Obj), alignof(Obj));
  Obj* a = Make(store, 1);
  Obj* b = Make(store, 2);
  // Consecutive slots of one block: 16 bytes of links per object, no more.
  EXPECT_EQ(reinterpret_cast<char*>(b) - reinterpret_cast<char*>(a), 16 + sizeof(Obj));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % alignof(Obj), 0u);
}

TEST(SlotStoreTest, ReusableListIsOldestFirstAndMovesBothWays) {
  SlotStore store(sizeof(Obj), alignof(Obj));
  std::vector<Obj*> objs;
  for (int i = 0; i < 5; ++i) objs.push_back(Make(store, i));
  EXPECT_EQ(store.size(), 5u);
  EXPECT_EQ(store.reusable_size(), 0u);
  EXPECT_EQ(store.OldestReusable(), nullptr);

  store.SetReusable(objs[3], true);
  store.SetReusable(objs[1], true);
  store.SetReusable(objs[4], true);
  EXPECT_EQ(store.reusable_size(), 3u);
  EXPECT_EQ(store.OldestReusable(), objs[3]);
  // Busy ones first, then the reusable ones in the order they became reusable.
  EXPECT_EQ(Ids(store), (std::vector<int64_t>{0, 2, 3, 1, 4}));

  // Busy again (a request came), then reusable again: now the newest.
  store.SetReusable(objs[3], false);
  EXPECT_EQ(store.reusable_size(), 2u);
  EXPECT_EQ(store.OldestReusable(), objs[1]);
  store.SetReusable(objs[3], true);
  EXPECT_EQ(Ids(store), (std::vector<int64_t>{0, 2, 1, 4, 3}));

  // Releasing the oldest reusable one makes the next oldest the head.
  EXPECT_TRUE(store.Release(objs[1], true));
  EXPECT_EQ(store.OldestReusable(), objs[4]);
  EXPECT_EQ(store.size(), 4u);
  EXPECT_EQ(store.reusable_size(), 2u);
  // A busy one leaves the reusable count alone.
  EXPECT_TRUE(store.Release(objs[0], false));
  EXPECT_EQ(store.reusable_size(), 2u);
  EXPECT_EQ(Ids(store), (std::vector<int64_t>{2, 4, 3}));
  // Released twice: not live any more.
  EXPECT_TRUE(store.live(objs[2]));
  EXPECT_FALSE(store.live(objs[0]));
  EXPECT_FALSE(store.Release(objs[0], false));
  EXPECT_EQ(store.size(), 3u);

  store.Release(objs[4], true);
  store.Release(objs[3], true);
  EXPECT_EQ(store.OldestReusable(), nullptr);
  EXPECT_EQ(store.reusable_size(), 0u);
  EXPECT_EQ(Ids(store), (std::vector<int64_t>{2}));
}

TEST(SlotStoreTest, FreedSlotsAreReusedAndBlocksGrow) {
  SlotStore store(sizeof(Obj), alignof(Obj));
  // More than one 64 KiB block's worth.
  std::vector<Obj*> objs;
  for (int i = 0; i < 400; ++i) objs.push_back(Make(store, i));
  std::set<Obj*> distinct(objs.begin(), objs.end());
  EXPECT_EQ(distinct.size(), 400u);
  for (int i = 0; i < 400; i += 2) store.SetReusable(objs[i], true);
  EXPECT_EQ(store.reusable_size(), 200u);
  EXPECT_EQ(store.OldestReusable(), objs[0]);
  Obj* freed = objs[10];
  EXPECT_TRUE(store.Release(freed, true));
  // The last freed slot is handed out first, busy and not live until Add().
  void* again = store.Allocate();
  EXPECT_EQ(again, freed);
  EXPECT_FALSE(store.Release(again, false));
  store.Add(again);
  EXPECT_EQ(store.size(), 400u);
  EXPECT_EQ(store.reusable_size(), 199u);
  EXPECT_EQ(store.All().size(), 400u);
}

}  // namespace
}  // namespace realip::server
