"""The real nbgrader workflow on notebook 04 (mode collapse): generate, autograde right and wrong answers, feedback."""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

# Typical mistakes: the answer that replaces one solution cell, and the test cell that must lose its points. Most
# of them are a correct answer with one part replaced, so they are built from these templates.
COVERAGE = '''
def mode_coverage(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    high_quality = {high_quality}
    modes = {modes}
    return {result}
'''
KL = '''
def reverse_kl(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    chosen = {chosen}
    if len(chosen) == 0:
        return {empty}
    counts = torch.bincount(chosen, minlength=len(centers)).double()
    p = {p}
    return {value}
'''


def coverage(high_quality: str = "distance < 3 * std", modes: str = "len(torch.unique(nearest[high_quality]))",
             result: str = "modes, high_quality.float().mean().item()") -> str:
    """A mode_coverage answer, correct unless one of its parts is replaced."""
    return COVERAGE.format(high_quality=high_quality, modes=modes, result=result)


def kl(chosen: str = "nearest[distance < 3 * std]", empty: str = 'float("inf")', p: str = "counts / counts.sum()",
       value: str = "torch.xlogy(p, p * len(centers)).sum().item()") -> str:
    """A reverse_kl answer, correct unless one of its parts is replaced."""
    return KL.format(chosen=chosen, empty=empty, p=p, value=value)


def stddev(body: str) -> str:
    """A minibatch_stddev answer with this body."""
    return "\ndef minibatch_stddev(x):\n    " + body.strip().replace("\n", "\n    ") + "\n"


def mistake(cell: str, code: str) -> Mistake:
    """A wrong answer to `cell` that must cost the points of its own test cell, and only those."""
    return Mistake(cell, code, (f"test_{cell}",))


MISTAKES = {
    # exercise 1: mode_coverage
    "coverage_one_std": mistake("mode_coverage", coverage(high_quality="distance < std")),
    "coverage_two_std": mistake("mode_coverage", coverage(high_quality="distance < 2 * std")),
    "coverage_three_variances": mistake("mode_coverage", coverage(high_quality="distance < 3 * std ** 2")),
    "coverage_squared_distance_against_three_std": mistake(
        "mode_coverage", coverage(high_quality="distance ** 2 < 3 * std")),
    "coverage_modes_of_all_samples": mistake("mode_coverage", coverage(modes="len(torch.unique(nearest))")),
    "coverage_two_samples_per_mode": mistake("mode_coverage", coverage(
        modes="int((torch.bincount(nearest[high_quality], minlength=len(centers)) >= 2).sum())")),
    "coverage_fraction_over_modes": mistake(
        "mode_coverage", coverage(result="modes, high_quality.sum().item() / len(centers)")),
    "coverage_percentage": mistake("mode_coverage", coverage(result="modes, 100 * high_quality.float().mean().item()")),
    "coverage_returns_tensors": mistake("mode_coverage", coverage(
        modes="torch.unique(nearest[high_quality]).numel()",
        result="torch.tensor(modes), high_quality.float().mean()")),
    "coverage_per_coordinate": mistake("mode_coverage", '''
def mode_coverage(samples, centers, std):
    offsets = (samples[:, None, :] - centers[None, :, :]).abs()
    nearest = torch.cdist(samples, centers).argmin(dim=1)
    high_quality = (offsets[torch.arange(len(samples)), nearest] < 3 * std).all(dim=1)
    return len(torch.unique(nearest[high_quality])), high_quality.float().mean().item()
'''),
    "coverage_hard_coded_ring": mistake("mode_coverage", '''
def mode_coverage(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    high_quality = distance < 0.03
    return len(torch.unique(nearest[high_quality])), high_quality.float().mean().item()
'''),
    "coverage_four_std": mistake("mode_coverage", coverage(high_quality="distance < 4 * std")),
    "coverage_three_sqrt_std": mistake("mode_coverage", coverage(high_quality="distance < 3 * math.sqrt(std)")),
    "coverage_min_over_the_wrong_axis": mistake("mode_coverage", '''
def mode_coverage(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=0)
    high_quality = distance < 3 * std
    return len(torch.unique(nearest[high_quality])), high_quality.float().mean().item()
'''),
    "coverage_integer_division": mistake(
        "mode_coverage", coverage(result="modes, float(int(high_quality.sum()) // len(samples))")),
    "coverage_fraction_over_samples_of_captured_modes": mistake("mode_coverage", coverage(
        result="modes, high_quality.sum().item() / int(torch.isin(nearest, nearest[high_quality]).sum())")),
    "coverage_counts_on_default_device": mistake("mode_coverage", '''
def mode_coverage(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    high_quality = distance < 3 * std
    counts = torch.zeros(len(centers), dtype=torch.long)
    counts.index_add_(0, nearest[high_quality], torch.ones_like(nearest[high_quality]))
    return int((counts > 0).sum()), high_quality.float().mean().item()
'''),
    # exercise 2: reverse_kl
    "kl_forward": mistake("reverse_kl", kl(value="(torch.log((1 / len(centers)) / p) / len(centers)).sum().item()")),
    "kl_all_samples": mistake("reverse_kl", kl(chosen="nearest")),
    "kl_log2": mistake("reverse_kl", kl(value="torch.xlogy(p, p * len(centers)).sum().item() / math.log(2)")),
    "kl_not_normalised": mistake("reverse_kl", kl(p="counts")),
    "kl_nan_for_missing_modes": mistake("reverse_kl", kl(value="(p * torch.log(p * len(centers))).sum().item()")),
    "kl_zero_without_high_quality": mistake("reverse_kl", kl(empty="0.0")),
    "kl_crashes_without_high_quality": mistake("reverse_kl", '''
def reverse_kl(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    chosen = nearest[distance < 3 * std]
    counts = torch.bincount(chosen, minlength=len(centers)).tolist()
    p = [c / len(chosen) for c in counts]
    return sum(q * math.log(q * len(centers)) for q in p if q > 0)
'''),
    "kl_uniform_over_captured_modes": mistake(
        "reverse_kl", kl(value="torch.xlogy(p, p * int((counts > 0).sum())).sum().item()")),
    "kl_against_real_samples": mistake("reverse_kl", '''
def reverse_kl(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    chosen = nearest[distance < 3 * std]
    if len(chosen) == 0:
        return float("inf")
    p = torch.bincount(chosen, minlength=len(centers)).double() / len(chosen)
    real = torch.randint(len(centers), (2500,), device=samples.device)  # the modes of 2,500 fresh real samples
    q = torch.bincount(real, minlength=len(centers)).double() / len(real)
    return torch.xlogy(p, p / q).sum().item()
'''),
    "kl_returns_tensor": mistake("reverse_kl", kl(value="torch.xlogy(p, p * len(centers)).sum()")),
    "kl_normalised_by_all_samples": mistake("reverse_kl", kl(p="counts / len(samples)")),
    "kl_hard_coded_eight_modes": mistake("reverse_kl", kl(value="torch.xlogy(p, p * 8).sum().item()")),
    "kl_entropy_in_bits": mistake("reverse_kl", kl(value="math.log(len(centers)) + torch.xlogy(p, p).sum().item() / "
                                                        "math.log(2)")),
    "kl_squared_distance_against_three_std": mistake("reverse_kl", kl(chosen="nearest[distance ** 2 < 3 * std]")),
    # exercise 3: pack
    "pack_mixes_groups": mistake("pack", '''
def pack(x, m):
    if m < 1 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    return torch.cat(torch.chunk(x, m), dim=1)
'''),
    "pack_reshape_m_first": mistake("pack", '''
def pack(x, m):
    if m < 1 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    B = len(x)
    return x.reshape(m, B // m, *x.shape[1:]).transpose(0, 1).reshape(B // m, m * x.shape[1], *x.shape[2:])
'''),
    "pack_stacks_a_new_dimension": mistake("pack", '''
def pack(x, m):
    if m < 1 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    return x.view(len(x) // m, m, *x.shape[1:])
'''),
    "pack_drops_the_remainder": mistake("pack", '''
def pack(x, m):
    if m < 1:
        raise ValueError("m must be at least 1")
    x = x[: len(x) // m * m]
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])
'''),
    "pack_interleaves_features": mistake("pack", '''
def pack(x, m):
    if m < 1 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    return x.view(len(x) // m, m, *x.shape[1:]).transpose(1, 2).reshape(len(x) // m, m * x.shape[1], *x.shape[2:])
'''),
    "pack_without_a_check": mistake("pack", '''
def pack(x, m):
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])
'''),
    "pack_through_numpy": mistake("pack", '''
def pack(x, m):
    if m < 1 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    array = x.detach().cpu().numpy()
    return torch.from_numpy(array.reshape(len(x) // m, m * x.shape[1], *x.shape[2:]).copy()).to(x.device)
'''),
    "pack_flattens_images": mistake("pack", '''
def pack(x, m):
    if m < 1 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    return x.reshape(len(x) // m, -1)
'''),
    "pack_view_fails_on_non_contiguous": mistake("pack", '''
def pack(x, m):
    if m < 1 or x.size(0) % m != 0:
        raise ValueError("batch size must be divisible by m")
    return x.view(-1, m * x.size(1), *x.shape[2:])
'''),
    "pack_accepts_negative_m": mistake("pack", '''
def pack(x, m):
    if m == 0 or len(x) % m:
        raise ValueError("the batch size must be a multiple of m")
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])
'''),
    # exercise 4: minibatch_stddev
    "stddev_over_features": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=1, keepdim=True, correction=0) + 1e-8)
return torch.cat([x, std], dim=1)
''')),
    "stddev_not_averaged": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=0, correction=0) + 1e-8)
return torch.cat([x, std.expand_as(x)], dim=1)
''')),
    "stddev_per_pixel_map": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=0, correction=0) + 1e-8)
if x.dim() == 2:
    return torch.cat([x, std.mean().expand(len(x), 1)], dim=1)
return torch.cat([x, std.mean(dim=0).expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_detached": mistake("minibatch_stddev", stddev('''
value = torch.sqrt(x.var(dim=0, correction=0) + 1e-8).mean().item()
return torch.cat([x, torch.full((len(x), 1, *x.shape[2:]), value, device=x.device, dtype=x.dtype)], dim=1)
''')),
    "stddev_without_epsilon": mistake("minibatch_stddev", stddev('''
std = ((x - x.mean(dim=0)) ** 2).mean(dim=0).sqrt()
return torch.cat([x, std.mean().expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_in_place": mistake("minibatch_stddev", stddev('''
original = x.clone()
x -= x.mean(dim=0)
std = torch.sqrt((x ** 2).mean(dim=0) + 1e-8)
return torch.cat([original, std.mean().expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_of_all_values": mistake("minibatch_stddev", stddev('''
std = x.std()
return torch.cat([x, std.expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_sqrt_of_mean_variance": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=0, correction=0).mean() + 1e-8)
return torch.cat([x, std.expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_prepended": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=0, correction=0) + 1e-8).mean()
return torch.cat([std.expand(len(x), 1, *x.shape[2:]), x], dim=1)
''')),
    "stddev_images_flattened": mistake("minibatch_stddev", stddev('''
flat = x.flatten(1)
std = torch.sqrt(flat.var(dim=0, correction=0) + 1e-8).mean()
return torch.cat([flat, std.expand(len(x), 1)], dim=1)
''')),
    "stddev_groups_of_four": mistake("minibatch_stddev", stddev('''
groups = x.reshape(4, len(x) // 4, *x.shape[1:])  # Karras et al.'s groups: samples b, b + B/4, b + B/2, ...
std = torch.sqrt(groups.var(dim=0, correction=0) + 1e-8).flatten(1).mean(dim=1)  # one number per group
extra = std.repeat(4).view(len(x), 1, *[1] * (x.dim() - 2)).expand(len(x), 1, *x.shape[2:])
return torch.cat([x, extra], dim=1)
''')),
    "stddev_points_only": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=0, correction=0) + 1e-8).mean()
return torch.cat([x, std.expand(len(x), 1)], dim=1)
''')),
    "stddev_mean_absolute_deviation": mistake("minibatch_stddev", stddev('''
spread = (x - x.mean(dim=0)).abs().mean()
return torch.cat([x, spread.expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_per_channel_over_pixels": mistake("minibatch_stddev", stddev('''
if x.dim() == 2:
    std = torch.sqrt(x.var(dim=0, correction=0) + 1e-8).mean()
else:
    std = torch.sqrt(x.transpose(0, 1).flatten(1).var(dim=1, correction=0) + 1e-8).mean()
return torch.cat([x, std.expand(len(x), 1, *x.shape[2:])], dim=1)
''')),
    "stddev_on_default_device": mistake("minibatch_stddev", stddev('''
std = torch.sqrt(x.var(dim=0, correction=0) + 1e-8).mean()
return torch.cat([x, std * torch.ones(len(x), 1, *x.shape[2:], dtype=x.dtype)], dim=1)
''')),
}

HINTS = {
    "coverage_one_std": "only the samples within 1 std count as high quality",
    "coverage_two_std": "only the samples within about 2 std count as high quality",
    "coverage_three_variances": "is the threshold 3 * std**2?",
    "coverage_squared_distance_against_three_std": "not the squared distance with 3 * std",
    "coverage_modes_of_all_samples": "count only the nearest modes of the HIGH-QUALITY samples",
    "coverage_two_samples_per_mode": "at least 1 high-quality sample",
    "coverage_fraction_over_modes": "divided by the number of modes K",
    "coverage_percentage": "not as a percentage",
    "coverage_returns_tensors": "mode_coverage returned a tensor",
    "coverage_per_coordinate": "not on each coordinate separately",
    "coverage_hard_coded_ring": "is the ring's std (0.01) or threshold (0.03) hard-coded?",
    "coverage_four_std": "the threshold is 3 std (not 4)",
    "coverage_three_sqrt_std": "nor the distance with 3 * sqrt(std)",
    "coverage_min_over_the_wrong_axis": "the minimum is taken over the wrong axis",
    "coverage_integer_division": "integer division?",
    "coverage_fraction_over_samples_of_captured_modes": "divided by the 13 samples nearest to the captured modes",
    "coverage_counts_on_default_device": "pass device=samples.device",
    "kl_forward": "it looks like the forward KL",
    "kl_all_samples": "the histogram includes the samples that are not high quality",
    "kl_log2": "looks like log base 2",
    "kl_not_normalised": "the histogram is not normalised",
    "kl_nan_for_missing_modes": "0 log 0 = 0",
    "kl_zero_without_high_quality": "reverse_kl should return float('inf')",
    "kl_crashes_without_high_quality": "reverse_kl crashed when no sample is high quality",
    "kl_uniform_over_captured_modes": "u is uniform over all K modes of the mixture",
    "kl_against_real_samples": "not with a histogram of freshly drawn real samples",
    "kl_returns_tensor": "reverse_kl returned a tensor",
    "kl_normalised_by_all_samples": "divided by the number of all samples",
    "kl_hard_coded_eight_modes": "it looks like the ring's K = 8 is hard-coded",
    "kl_entropy_in_bits": "the entropy H(p) in bits",
    "kl_squared_distance_against_three_std": "it looks like the squared distance is compared with 3 * std",
    "pack_mixes_groups": "pack mixes samples across groups",
    "pack_reshape_m_first": "pack mixes samples across groups",
    "pack_stacks_a_new_dimension": "stacks the m samples along a new dimension",
    "pack_drops_the_remainder": "instead of silently dropping the remainder",
    "pack_interleaves_features": "pack interleaves the features of a group",
    "pack_without_a_check": "should raise a ValueError with a clear message",
    "pack_through_numpy": "pack cuts the gradient",
    "pack_flattens_images": "concatenates each pair along the channels",
    "pack_view_fails_on_non_contiguous": "pack failed on a non-contiguous batch",
    "pack_accepts_negative_m": "pack(x, m=-2) for a batch of 6 should raise a ValueError",
    "stddev_over_features": "the extra feature differs between samples",
    "stddev_not_averaged": "average them into ONE number",
    "stddev_per_pixel_map": "the extra channel is not one constant",
    "stddev_detached": "no gradient flows through the extra feature",
    "stddev_without_epsilon": "identical samples give a nan gradient",
    "stddev_in_place": "minibatch_stddev changed its input x in place",
    "stddev_of_all_values": "one std of all the numbers in the batch",
    "stddev_sqrt_of_mean_variance": "average the standard deviations of the features, not their variances",
    "stddev_prepended": "the extra feature comes first",
    "stddev_images_flattened": "the result is (B, C + 1, H, W)",
    "stddev_on_default_device": "created on the default device instead of x.device",
    "stddev_groups_of_four": "not in groups of 4 as in Karras et al.'s code",
    "stddev_points_only": "your function must also accept images (B, C, H, W)",
    "stddev_mean_absolute_deviation": "looks like the mean absolute deviation",
    "stddev_per_channel_over_pixels": "looks like one std per channel, over the batch and the pixels together",
}

# Wrong submissions, at most one mistake per cell: the four exercises are independent (no exercise calls another), so
# each submission shows that every one of its mistakes costs points in its own test cell only.
WRONG_SUBMISSIONS = {
    "wrong_1": ["coverage_one_std", "kl_forward", "pack_mixes_groups", "stddev_over_features"],
    "wrong_2": ["coverage_two_std", "kl_all_samples", "pack_reshape_m_first", "stddev_not_averaged"],
    "wrong_3": ["coverage_three_variances", "kl_log2", "pack_stacks_a_new_dimension", "stddev_per_pixel_map"],
    "wrong_4": ["coverage_squared_distance_against_three_std", "kl_not_normalised", "pack_drops_the_remainder",
                "stddev_detached"],
    "wrong_5": ["coverage_modes_of_all_samples", "kl_nan_for_missing_modes", "pack_interleaves_features",
                "stddev_without_epsilon"],
    "wrong_6": ["coverage_two_samples_per_mode", "kl_zero_without_high_quality", "pack_without_a_check",
                "stddev_in_place"],
    "wrong_7": ["coverage_fraction_over_modes", "kl_crashes_without_high_quality", "pack_through_numpy",
                "stddev_of_all_values"],
    "wrong_8": ["coverage_percentage", "kl_uniform_over_captured_modes", "pack_flattens_images",
                "stddev_sqrt_of_mean_variance"],
    "wrong_9": ["coverage_returns_tensors", "kl_against_real_samples", "pack_view_fails_on_non_contiguous",
                "stddev_prepended"],
    "wrong_10": ["coverage_per_coordinate", "kl_returns_tensor", "pack_accepts_negative_m", "stddev_images_flattened"],
    "wrong_11": ["coverage_hard_coded_ring", "kl_normalised_by_all_samples", "stddev_on_default_device"],
    "wrong_12": ["coverage_counts_on_default_device", "kl_hard_coded_eight_modes", "stddev_groups_of_four"],
    "wrong_13": ["coverage_four_std", "kl_entropy_in_bits", "stddev_points_only"],
    "wrong_14": ["coverage_three_sqrt_std", "kl_squared_distance_against_three_std", "stddev_mean_absolute_deviation"],
    "wrong_15": ["coverage_min_over_the_wrong_axis", "stddev_per_channel_over_pixels"],
    "wrong_16": ["coverage_integer_division"],
    "wrong_17": ["coverage_fraction_over_samples_of_captured_modes"],
}

# Other correct ways to write the exercises: they must get full marks too. ALTERNATIVES go through nbgrader as one
# submission; MORE_ALTERNATIVES are checked in-process (test_notebook_04.py), cell by cell.
ALTERNATIVES = {
    "mode_coverage": '''
def mode_coverage(samples, centers, std):
    """Plain loops over NumPy arrays, squared distances against (3 std)^2, <= at the threshold."""
    points, means = samples.detach().cpu().numpy(), centers.detach().cpu().numpy()
    captured, good = set(), 0
    for point in points:
        squared = ((means - point) ** 2).sum(axis=1)
        k = int(np.argmin(squared))
        if squared[k] <= (3 * std) ** 2:
            good += 1
            captured.add(k)
    return len(captured), good / len(points)
''',
    "reverse_kl": '''
def reverse_kl(samples, centers, std):
    """NumPy, with the empty modes masked out of the sum."""
    d = np.linalg.norm(samples.cpu().numpy()[:, None, :] - centers.cpu().numpy()[None, :, :], axis=2)
    nearest, good = d.argmin(axis=1), d.min(axis=1) <= 3 * std
    if not good.any():
        return np.inf
    p = np.bincount(nearest[good], minlength=len(centers)) / good.sum()
    p = p[p > 0]
    return float(np.sum(p * np.log(p / (1.0 / len(centers)))))
''',
    "pack": '''
def pack(x, m):
    """torch.cat of the i-th member of every group: x[i::m] holds samples i, m + i, 2m + i, ..."""
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    if x.shape[0] % m:
        raise ValueError(f"the batch size {x.shape[0]} is not a multiple of m = {m}")
    return torch.cat([x[i::m] for i in range(m)], dim=1)
''',
    "minibatch_stddev": '''
def minibatch_stddev(x):
    """The unbiased std (torch.std's default), no epsilon, repeated with .repeat."""
    s = torch.std(x, dim=0).mean()
    shape = [x.shape[0], 1] + list(x.shape[2:])
    return torch.cat((x, s.reshape([1] * x.dim()).repeat(shape)), 1)
''',
}

MORE_ALTERNATIVES = {
    "mode_coverage": ['''
def mode_coverage(samples, centers, std):
    """A mode is captured when some sample lies within 3 std of it (the same, as long as the 3-std discs are apart)."""
    close = torch.cdist(samples, centers) < 3 * std
    return int(close.any(dim=0).sum()), float(close.any(dim=1).float().mean())
''', coverage(high_quality="distance <= 3 * std",
                               modes="int((torch.bincount(nearest[high_quality], minlength=len(centers)) > 0).sum())",
                               result="modes, float(high_quality.sum()) / len(samples)"), '''
def mode_coverage(samples, centers, std):
    """A Python loop over the samples with torch."""
    captured, good = set(), 0
    for point in samples:
        distance = torch.sqrt(((centers - point) ** 2).sum(dim=1))
        if distance.min() < 3 * std:
            good += 1
            captured.add(int(distance.argmin()))
    return len(captured), good / len(samples)
''', '''
def mode_coverage(samples, centers, std):
    """NumPy all the way: returns NumPy scalars (np.int64, np.float64), which the contract accepts."""
    d = np.linalg.norm(samples.cpu().numpy()[:, None, :] - centers.cpu().numpy()[None, :, :], axis=2)
    good = d.min(axis=1) < 3 * std
    return (np.bincount(d.argmin(axis=1)[good], minlength=len(centers)) > 0).sum(), good.mean()
'''],
    "reverse_kl": [kl(p="counts / len(chosen)",
                      value="sum(float(q) * math.log(float(q) * len(centers)) for q in p if q > 0)"), '''
def reverse_kl(samples, centers, std):
    """A small epsilon inside the log instead of masking."""
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    good = distance < 3 * std
    if good.sum() == 0:
        return math.inf
    p = torch.zeros(len(centers), device=samples.device, dtype=torch.float64)
    p.index_add_(0, nearest[good], torch.ones(int(good.sum()), device=samples.device, dtype=torch.float64))
    p = p / p.sum()
    return float((p * torch.log(p * len(centers) + 1e-12)).sum())
'''],
    "pack": ['''
def pack(x, m):
    if m < 1 or x.size(0) % m != 0:
        raise ValueError("batch size must be divisible by m")
    return x.contiguous().view(-1, m * x.size(1), *x.shape[2:])
''', '''
def pack(x, m):
    if m <= 0 or len(x) % m:
        raise ValueError("bad m")
    return torch.stack([torch.cat(list(x[i:i + m])) for i in range(0, len(x), m)])
'''],
    "minibatch_stddev": [stddev('''
y = x - x.mean(dim=0, keepdim=True)
s = torch.sqrt(y.pow(2).mean(dim=0) + 1e-8).mean()
return torch.cat([x, torch.ones_like(x[:, :1]) * s], dim=1)
'''), stddev('''
s = torch.sqrt(torch.var(x, dim=0, unbiased=True) + 1e-6).mean()
return torch.cat([x, s.expand(x.shape[0], 1, *x.shape[2:])], dim=1)
''')],
}

SPEC = FlowSpec(
    assignment="04_mode_collapse",
    notebook="mode_collapse",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    feedback_phrases={
        "wrong_1": [HINTS["coverage_one_std"], HINTS["kl_forward"], HINTS["pack_mixes_groups"],
                    HINTS["stddev_over_features"]],
        "wrong_4": [HINTS["coverage_squared_distance_against_three_std"], HINTS["pack_drops_the_remainder"],
                    HINTS["stddev_detached"]],
        "wrong_5": [HINTS["coverage_modes_of_all_samples"], HINTS["kl_nan_for_missing_modes"]],
        "wrong_9": [HINTS["coverage_returns_tensors"], HINTS["kl_against_real_samples"]],
    },
)
graded = graded_course_fixture(SPEC)
