// The compiled decode step's two opaque ops in C++ (see compiled.py, native.py).
//
// inductor's graph calls an op with a Python body through Python: ~35 us a
// call, ~150 calls a step, a fifth of a batch-1 step on a 2-core CPU. These
// take no Python at all. The model's state they need (fbgemm's packed fp16
// weights, each layer's KV cache) is handed over once, by integer key, as
// the Python ops reach their modules.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/native/quantized/PackedParams.h>
#include <torch/library.h>

#include <cmath>
#include <mutex>
#include <unordered_map>

namespace {

std::mutex registry_lock;  // set_* run on the engine thread, but a process may hold several models
std::unordered_map<int64_t, c10::intrusive_ptr<LinearPackedParamsBase>> linears;
std::unordered_map<int64_t, std::pair<at::Tensor, at::Tensor>> caches;

void set_linear(int64_t key, c10::intrusive_ptr<LinearPackedParamsBase> packed) {
  std::lock_guard<std::mutex> g(registry_lock);
  linears[key] = std::move(packed);
}

void set_cache(int64_t key, at::Tensor k, at::Tensor v) {
  std::lock_guard<std::mutex> g(registry_lock);
  caches[key] = {std::move(k), std::move(v)};
}

void forget(int64_t key) {
  std::lock_guard<std::mutex> g(registry_lock);
  linears.erase(key);
  caches.erase(key);
}

template <typename T>
T lookup(const std::unordered_map<int64_t, T>& map, int64_t key, const char* what) {
  std::lock_guard<std::mutex> g(registry_lock);
  auto it = map.find(key);
  TORCH_CHECK(it != map.end(), "writeup_native: no ", what, " registered under key ", key);
  return it->second;
}

at::Tensor fp16_linear(const at::Tensor& x, int64_t key) {
  return lookup(linears, key, "linear")->apply_dynamic(x.contiguous());
}

// One decode token a row: writes each row's key and value at its position in
// its slot, then attends its query over that slot's keys 0..pos (no mask, no
// gather, no copy: a view of the slot). Query heads share kv heads in groups
// (head h reads kv head h / group, as SDPA's enable_gqa), so a group's queries
// can go together as one [group, head_dim] x [head_dim, pos + 1] product.
// q [N, heads, head_dim], k, v [N, kv_heads, head_dim], slots, pos [N] (int64)
// -> [N, heads * head_dim].
at::Tensor decode_attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const at::Tensor& slots, const at::Tensor& pos, int64_t key) {
  const auto& cache = lookup(caches, key, "KV cache");
  const at::Tensor& ck = cache.first;  // [slots, kv_heads, max_seq, head_dim]
  const at::Tensor& cv = cache.second;
  const int64_t n = q.size(0), heads = q.size(1), head_dim = q.size(2), kv_heads = k.size(1);
  const int64_t group = heads / kv_heads, max_seq = ck.size(2);
  TORCH_CHECK(heads % kv_heads == 0 && ck.size(1) == kv_heads && ck.size(3) == head_dim,
              "writeup_native.decode_attend: shapes do not match the cache");
  auto slot_cpu = slots.to(at::kCPU, at::kLong).contiguous();
  auto pos_cpu = pos.to(at::kCPU, at::kLong).contiguous();
  const int64_t* sl = slot_cpu.data_ptr<int64_t>();
  const int64_t* ps = pos_cpu.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; i++) {
    TORCH_CHECK(sl[i] >= 0 && sl[i] < ck.size(0) && ps[i] >= 0 && ps[i] < max_seq,
                "writeup_native.decode_attend: row ", i, " writes outside the cache");
    ck.select(0, sl[i]).select(1, ps[i]).copy_(k.select(0, i));
    cv.select(0, sl[i]).select(1, ps[i]).copy_(v.select(0, i));
  }
  auto out = at::empty({n, heads * head_dim}, q.options());
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  // A task per (row, kv head), the ops inside on one thread each; when that
  // is too few tasks to share out evenly (batch 1: 3 kv heads, 2 threads), a
  // task per (row, query head), each reading its kv head's keys (from cache).
  const int64_t per_task = n * kv_heads >= 2 * at::get_num_threads() ? group : 1;
  const int64_t tasks_per_row = heads / per_task;
  at::parallel_for(0, n * tasks_per_row, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; task++) {
      const int64_t i = task / tasks_per_row, first = (task % tasks_per_row) * per_task;
      const int64_t h = first / group, len = ps[i] + 1;
      auto keys = ck.select(0, sl[i]).select(0, h).narrow(0, 0, len);  // [len, head_dim]
      auto vals = cv.select(0, sl[i]).select(0, h).narrow(0, 0, len);
      auto qs = q.select(0, i).narrow(0, first, per_task);  // [per_task, head_dim]
      auto scores = at::mm(qs, keys.t()).mul_(scale);  // [per_task, len]
      auto probs = at::softmax(scores, -1, at::kFloat).to(vals.scalar_type());
      out.select(0, i).narrow(0, first * head_dim, per_task * head_dim).view({per_task, head_dim})
          .copy_(at::mm(probs, vals));
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY(writeup_native, m) {
  m.def("set_linear(int key, __torch__.torch.classes.quantized.LinearPackedParamsBase packed) -> ()", set_linear);
  m.def("set_cache(int key, Tensor k, Tensor v) -> ()", set_cache);
  m.def("forget(int key) -> ()", forget);
  m.def("fp16_linear(Tensor x, int key) -> Tensor");
  m.def("decode_attend(Tensor q, Tensor k, Tensor v, Tensor slots, Tensor pos, int key) -> Tensor");
  m.impl("fp16_linear", c10::DispatchKey::CPU, TORCH_FN(fp16_linear));
  m.impl("decode_attend", c10::DispatchKey::CPU, TORCH_FN(decode_attend));
}
