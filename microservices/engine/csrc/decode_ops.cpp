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

#include <algorithm>
#include <cmath>
#include <vector>
#include <mutex>
#include <unordered_map>

namespace {

// From this many keys on (or alone in its batch), a row attends through SDPA:
// measured on a 2-core Zen 4, a batch of one at 100 keys takes 19 us there
// against 28 in the loops below, at 1,900 keys 141 against 340.
constexpr int64_t kLongRow = 256;

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

// The short rows: a task per (row, query head), plain loops (ATen ops here
// cost ~1 us each, ~20 a head: more than the arithmetic of a short row).
// Keys and values are fp32 or bf16 (a half-size cache), read as fp32.
template <typename T>
void attend_short_rows(const at::Tensor& q, const at::Tensor& ck, const at::Tensor& cv, const int64_t* sl,
                       const int64_t* ps, const std::vector<bool>& done, int64_t group, float scale,
                       at::Tensor& out) {
  const int64_t n = q.size(0), heads = q.size(1), head_dim = q.size(2);
  auto qc = q.contiguous();
  const float* qp = qc.data_ptr<float>();
  const T* kp = ck.data_ptr<T>();
  const T* vp = cv.data_ptr<T>();
  float* op = out.data_ptr<float>();
  const int64_t s0 = ck.stride(0), s1 = ck.stride(1), s2 = ck.stride(2);
  at::parallel_for(0, n * heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    for (int64_t task = begin; task < end; task++) {
      const int64_t i = task / heads, head = task % heads, len = ps[i] + 1;
      if (done[i]) continue;
      const int64_t base = sl[i] * s0 + (head / group) * s1;
      const float* qh = qp + (i * heads + head) * head_dim;
      scores.resize(len);
      float top = -INFINITY;
      for (int64_t j = 0; j < len; j++) {
        const T* kj = kp + base + j * s2;
        float dot = 0.f;
#pragma omp simd reduction(+ : dot)
        for (int64_t d = 0; d < head_dim; d++) dot += qh[d] * static_cast<float>(kj[d]);
        scores[j] = dot * scale;
        top = std::max(top, scores[j]);
      }
      float total = 0.f;
      for (int64_t j = 0; j < len; j++) total += (scores[j] = std::exp(scores[j] - top));
      float* oh = op + i * heads * head_dim + head * head_dim;
      std::fill(oh, oh + head_dim, 0.f);
      for (int64_t j = 0; j < len; j++) {
        const T* vj = vp + base + j * s2;
        const float w = scores[j] / total;
#pragma omp simd
        for (int64_t d = 0; d < head_dim; d++) oh[d] += w * static_cast<float>(vj[d]);
      }
    }
  });
}

// Sibling rows (a request's alternatives, adjacent, at one position) whose
// keys and values at 0..P-1 are in a parent slot and from P on in their own:
// the same ops in the same order as model.py's attend_siblings (so either path
// gives the same bits): the prefix read once for every sibling's queries, the
// own keys per row, the two softmaxes merged by their log-sum-exps.
void attend_siblings(const at::Tensor& q, const at::Tensor& ck, const at::Tensor& cv, const at::Tensor& slots,
                     const int64_t* ps, const int64_t* sh, std::vector<bool>& done, at::Tensor& out) {
  const int64_t n = q.size(0), heads = q.size(1), d = q.size(2), kvh = ck.size(1), g = heads / kvh;
  for (int64_t i = 0; i < n;) {
    const int64_t parent = sh[2 * i], shared = sh[2 * i + 1];
    int64_t j = i + 1;
    if (shared <= 0) {
      i = j;
      continue;
    }
    while (j < n && sh[2 * j] == parent && sh[2 * j + 1] == shared && ps[j] == ps[i]) j++;
    const int64_t m = j - i, end = ps[i] + 1;
    TORCH_CHECK(parent >= 0 && parent < ck.size(0) && shared < end,
                "writeup_native.decode_attend: row ", i, " shares a prefix outside the cache");
    auto qv = q.narrow(0, i, m).contiguous().view({m, kvh, g, d});
    auto qp = qv.transpose(0, 1).reshape({1, kvh, m * g, d});
    auto pre = at::_scaled_dot_product_flash_attention_for_cpu(
        qp, ck.narrow(0, parent, 1).narrow(2, 0, shared).to(q.scalar_type()),
        cv.narrow(0, parent, 1).narrow(2, 0, shared).to(q.scalar_type()));
    auto idx = slots.narrow(0, i, m);
    auto ks = ck.narrow(2, shared, end - shared).index_select(0, idx).to(q.scalar_type());
    auto vs = cv.narrow(2, shared, end - shared).index_select(0, idx).to(q.scalar_type());
    auto own = at::_scaled_dot_product_flash_attention_for_cpu(qv, ks, vs);
    auto lse_p = std::get<1>(pre).reshape({kvh, m, g}).transpose(0, 1);
    auto o_p = std::get<0>(pre).reshape({kvh, m, g, d}).transpose(0, 1);
    const auto& lse_s = std::get<1>(own);
    const auto& o_s = std::get<0>(own);
    auto top = at::maximum(lse_p, lse_s);
    auto wp = (lse_p - top).exp().unsqueeze(-1);
    auto ws = (lse_s - top).exp().unsqueeze(-1);
    out.narrow(0, i, m).copy_(((o_p * wp + o_s * ws) / (wp + ws)).reshape({m, heads * d}));
    for (int64_t r = i; r < j; r++) done[r] = true;
    i = j;
  }
}

// One decode token a row: writes each row's key and value at its position in
// its slot, then attends its query over that slot's keys 0..pos (no mask, no
// gather, no copy: a view of the slot). Query heads share kv heads in groups
// (head h reads kv head h / group, as SDPA's enable_gqa), so a group's queries
// can go together as one [group, head_dim] x [head_dim, pos + 1] product.
// q [N, heads, head_dim], k, v [N, kv_heads, head_dim], slots, pos [N] (int64),
// share [N, 2] (int64: parent slot and shared length, 0 for none; see
// attend_siblings) -> [N, heads * head_dim].
at::Tensor decode_attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const at::Tensor& slots, const at::Tensor& pos, const at::Tensor& share, int64_t key) {
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
  auto share_cpu = share.to(at::kCPU, at::kLong).contiguous();
  TORCH_CHECK(share_cpu.dim() == 2 && share_cpu.size(0) == n && share_cpu.size(1) == 2,
              "writeup_native.decode_attend: share must be [rows, 2]");
  const int64_t* sh = share_cpu.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; i++) {
    TORCH_CHECK(sl[i] >= 0 && sl[i] < ck.size(0) && ps[i] >= 0 && ps[i] < max_seq,
                "writeup_native.decode_attend: row ", i, " writes outside the cache");
    ck.select(0, sl[i]).select(1, ps[i]).copy_(k.select(0, i));  // (rounds to a bf16 cache)
    cv.select(0, sl[i]).select(1, ps[i]).copy_(v.select(0, i));
  }
  auto out = at::empty({n, heads * head_dim}, q.options());
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  // Long rows: SDPA's flash kernel (vectorized exp; it shares out its own
  // threads), one call a row over views of its slot. The rest below, all
  // rows at once.
  std::vector<bool> done(n, false);
  attend_siblings(q, ck, cv, slot_cpu, ps, sh, done, out);
  for (int64_t i = 0; i < n; i++) {
    const int64_t len = ps[i] + 1;
    if (done[i] || (len < kLongRow && n > 1)) continue;
    // (a bf16 cache under an fp32 model: read as fp32, as every path does,
    // so a row's output does not depend on the path it took)
    auto keys = ck.select(0, sl[i]).narrow(1, 0, len).unsqueeze(0).to(q.scalar_type());  // [1, kv_heads, len, head_dim]
    auto vals = cv.select(0, sl[i]).narrow(1, 0, len).unsqueeze(0).to(q.scalar_type());
    auto qs = q.select(0, i).unsqueeze(0).unsqueeze(2);  // [1, heads, 1, head_dim]
    out.select(0, i).copy_(at::scaled_dot_product_attention(qs, keys, vals, {}, 0.0, false, {}, group > 1)
                               .reshape({heads * head_dim}));
    done[i] = true;
  }
  if (q.scalar_type() == at::kFloat && ck.stride(3) == 1) {
    if (ck.scalar_type() == at::kFloat) {
      attend_short_rows<float>(q, ck, cv, sl, ps, done, group, scale, out);
      return out;
    }
    if (ck.scalar_type() == at::kBFloat16) {  // a bf16 KV cache under an fp32 model
      attend_short_rows<at::BFloat16>(q, ck, cv, sl, ps, done, group, scale, out);
      return out;
    }
  }
  // Other dtypes (bf16 models): a task per (row, kv head), with ATen's ops.
  const double dscale = scale;
  at::parallel_for(0, n * kv_heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; task++) {
      const int64_t i = task / kv_heads, h = task % kv_heads, len = ps[i] + 1;
      if (done[i]) continue;
      auto keys = ck.select(0, sl[i]).select(0, h).narrow(0, 0, len);  // [len, head_dim]
      auto vals = cv.select(0, sl[i]).select(0, h).narrow(0, 0, len);
      auto qs = q.select(0, i).narrow(0, h * group, group).to(keys.scalar_type());  // [group, head_dim]
      auto scores = at::mm(qs, keys.t()).mul_(dscale);  // [group, len]
      auto probs = at::softmax(scores, -1, at::kFloat).to(vals.scalar_type());
      out.select(0, i).narrow(0, h * group * head_dim, group * head_dim).view({group, head_dim})
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
  m.def("decode_attend(Tensor q, Tensor k, Tensor v, Tensor slots, Tensor pos, Tensor share, int key) -> Tensor");
  m.impl("fp16_linear", c10::DispatchKey::CPU, TORCH_FN(fp16_linear));
  m.impl("decode_attend", c10::DispatchKey::CPU, TORCH_FN(decode_attend));
}
