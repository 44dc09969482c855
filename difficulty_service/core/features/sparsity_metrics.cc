#include "difficulty_service/core/features/sparsity_metrics.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace sparsegate {

namespace {

// Shannon entropy of each row of a probability matrix, with 0 log 0 = 0.
at::Tensor RowEntropy(const at::Tensor& p) {
  at::Tensor logp = at::where(p > 0, p.log(), at::zeros_like(p));
  return -(p * logp).sum(-1);
}

}  // namespace

at::Tensor ComputeSparsityMetrics(const at::Tensor& h_in) {
  at::Tensor h = h_in.to(at::kDouble);
  const int64_t d = h.size(1);
  const double dd = static_cast<double>(d);
  constexpr double kTiny = 1e-300;  // keeps an all-zero row finite instead of NaN

  at::Tensor a = h.abs();
  at::Tensor a2 = a * a;
  at::Tensor sum_a = a.sum(-1).clamp_min(kTiny);
  at::Tensor sum_a2 = a2.sum(-1).clamp_min(kTiny);

  at::Tensor mean_a = a.mean(-1, true);
  at::Tensor std_a = a.std(-1, /*unbiased=*/false, /*keepdim=*/true);
  at::Tensor heavy = (a > mean_a + std_a).to(at::kDouble).mean(-1);

  at::Tensor desc = std::get<0>(a.sort(-1, /*descending=*/true));
  at::Tensor cum_a = desc.cumsum(-1);
  at::Tensor cum_a2 = (desc * desc).cumsum(-1);
  auto top = [&](const at::Tensor& cum, const at::Tensor& total, double share) {
    int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::floor(share * dd)));
    return cum.select(-1, k - 1) / total;
  };

  at::Tensor l1_over_l2 = sum_a / sum_a2.sqrt();
  at::Tensor hoyer = d > 1 ? (std::sqrt(dd) - l1_over_l2) / (std::sqrt(dd) - 1) : at::zeros_like(sum_a);

  at::Tensor er_l1 = RowEntropy(a / sum_a.unsqueeze(-1)).exp() / dd;
  at::Tensor er_l2 = RowEntropy(a2 / sum_a2.unsqueeze(-1)).exp() / dd;

  // Gini over ascending order: sum_i (2i - d - 1) a_(i) / (d sum a), i = 1..d.
  at::Tensor asc = desc.flip(-1);
  at::Tensor coef = 2 * at::arange(1, d + 1, h.options()) - dd - 1;
  at::Tensor gini = (asc * coef).sum(-1) / (dd * sum_a);

  at::Tensor centered = a - mean_a;
  at::Tensor m2 = centered.pow(2).mean(-1);
  at::Tensor m4 = centered.pow(4).mean(-1);
  at::Tensor kurtosis = m4 / (m2 * m2).clamp_min(kTiny) - 3.0;

  at::Tensor participation = sum_a2 * sum_a2 / (a2 * a2).sum(-1).clamp_min(kTiny) / dd;
  at::Tensor max_over_rms = desc.select(-1, 0) / (sum_a2 / dd).sqrt();

  at::Tensor out = at::stack({heavy, top(cum_a2, sum_a2, 0.01), top(cum_a2, sum_a2, 0.05), top(cum_a2, sum_a2, 0.10),
                              top(cum_a, sum_a, 0.01), top(cum_a, sum_a, 0.05), top(cum_a, sum_a, 0.10), hoyer, er_l1,
                              er_l2, gini, kurtosis, participation, max_over_rms},
                             -1);
  return out.to(at::kFloat);
}

}  // namespace sparsegate
