"""The real nbgrader workflow on notebook 02 (DCGAN and the latent space): generate, autograde, feedback.

The same mistakes and alternatives are also checked in-process, cell by cell, in test_notebook_02.py (fast).
"""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

GENERATOR = '''
class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim=100, feature_maps=64, channels=1):
        super().__init__()
        f = feature_maps
        self.net = nn.Sequential(
            {layers}
        )

    def forward(self, z):
        return self.net(z.view(len(z), -1, 1, 1))
'''
DISCRIMINATOR = '''
class DCGANDiscriminator(nn.Module):
    def __init__(self, channels=1, feature_maps=64):
        super().__init__()
        f = feature_maps
        self.net = nn.Sequential(
            {layers}
        )

    def forward(self, x):
        return self.net(x).view(-1)
'''
SLERP = '''
def slerp(z0, z1, t):
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    w = t.reshape(-1, 1)
    {body}
    return path.reshape(*t.shape, -1)
'''
TRUNCATED = '''
def truncated_noise(n, latent_dim, threshold, device=None):
    {body}
'''

# Typical mistakes: the answer that replaces one solution cell, and the test cells that must lose their points.
MISTAKES = {
    # Exercise 1: DCGANGenerator
    "generator_32x32": Mistake("dcgan_generator", GENERATOR.format(layers='''
            nn.ConvTranspose2d(latent_dim, 4 * f, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * f), nn.ReLU(True),  # 1 -> 4
            nn.ConvTranspose2d(4 * f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.ReLU(True),  # 4 -> 8
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(True),  # 8 -> 16
            nn.ConvTranspose2d(f, channels, 4, 2, 1), nn.Tanh(),  # 16 -> 32'''), ("test_dcgan_generator",)),
    "generator_27x27": Mistake("dcgan_generator", GENERATOR.format(layers='''
            nn.ConvTranspose2d(latent_dim, 2 * f, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * f), nn.ReLU(True),
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(True),
            nn.ConvTranspose2d(f, channels, 3, 2, 1), nn.Tanh(),  # 14 -> 27'''), ("test_dcgan_generator",)),
    "generator_batch_norm_on_output": Mistake("dcgan_generator", GENERATOR.format(layers='''
            nn.ConvTranspose2d(latent_dim, 2 * f, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * f), nn.ReLU(True),
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(True),
            nn.ConvTranspose2d(f, channels, 4, 2, 1, bias=False), nn.BatchNorm2d(channels), nn.Tanh(),'''),
        ("test_dcgan_generator",)),
    "generator_sigmoid": Mistake("dcgan_generator", GENERATOR.format(layers='''
            nn.ConvTranspose2d(latent_dim, 2 * f, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * f), nn.ReLU(True),
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(True),
            nn.ConvTranspose2d(f, channels, 4, 2, 1), nn.Sigmoid(),'''), ("test_dcgan_generator",)),
    "generator_fixed_width": Mistake("dcgan_generator", GENERATOR.format(layers='''
            nn.ConvTranspose2d(latent_dim, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh(),'''), ("test_dcgan_generator",)),
    "generator_argument_order": Mistake("dcgan_generator", GENERATOR.format(layers='''
            nn.ConvTranspose2d(latent_dim, 2 * f, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * f), nn.ReLU(True),
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(True),
            nn.ConvTranspose2d(f, channels, 4, 2, 1), nn.Tanh(),''').replace(
                "latent_dim=100, feature_maps=64, channels=1", "latent_dim=100, channels=1, feature_maps=64"),
        ("test_dcgan_generator",)),
    # Exercise 2: DCGANDiscriminator
    "discriminator_squeeze": Mistake("dcgan_discriminator", DISCRIMINATOR.format(layers='''
            nn.Conv2d(channels, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * f, 1, 7, 1, 0),''').replace(".view(-1)", ".squeeze()"), ("test_dcgan_discriminator",)),
    "discriminator_batch_norm_on_input": Mistake("dcgan_discriminator", DISCRIMINATOR.format(layers='''
            nn.Conv2d(channels, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * f, 1, 7, 1, 0),'''), ("test_dcgan_discriminator",)),
    "discriminator_sigmoid": Mistake("dcgan_discriminator", DISCRIMINATOR.format(layers='''
            nn.Conv2d(channels, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * f, 1, 7, 1, 0), nn.Sigmoid(),'''), ("test_dcgan_discriminator",)),
    "discriminator_max_pooling": Mistake("dcgan_discriminator", DISCRIMINATOR.format(layers='''
            nn.Conv2d(channels, f, 3, 1, 1), nn.LeakyReLU(0.2), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(f, 2 * f, 3, 1, 1), nn.LeakyReLU(0.2), nn.MaxPool2d(2),  # 14 -> 7
            nn.Conv2d(2 * f, 1, 7, 1, 0),'''), ("test_dcgan_discriminator",)),
    "discriminator_logits_b_1": Mistake("dcgan_discriminator", DISCRIMINATOR.format(layers='''
            nn.Conv2d(channels, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * f, 1, 7, 1, 0), nn.Flatten(),''').replace(".view(-1)", ""), ("test_dcgan_discriminator",)),
    # Exercise 3: weights_init
    "init_linear_only": Mistake("weights_init", '''
def weights_init(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
''', ("test_weights_init",)),
    "init_variance_not_std": Mistake("weights_init", '''
def weights_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02 ** 2)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02 ** 2)
        nn.init.zeros_(module.bias)
''', ("test_weights_init",)),
    "init_conv_bias_none": Mistake("weights_init", '''
def weights_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
''', ("test_weights_init",)),
    "init_uniform": Mistake("weights_init", '''
def weights_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.uniform_(module.weight, -0.02 * 3 ** 0.5, 0.02 * 3 ** 0.5)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
''', ("test_weights_init",)),
    "init_xavier": Mistake("weights_init", '''
def weights_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_normal_(module.weight)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
''', ("test_weights_init",)),
    "init_batch_norm_bias_untouched": Mistake("weights_init", '''
def weights_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
''', ("test_weights_init",)),
    # Exercise 4: slerp
    "slerp_in_place": Mistake("slerp", SLERP.format(body='''r0, r1 = z0.norm(), z1.norm()
    z0 /= r0
    z1 /= r1
    omega = torch.acos(torch.dot(z0, z1).clamp(-1, 1))
    if torch.sin(omega) < 1e-4:
        path = ((1 - w) * z0 + w * z1) * ((1 - w) * r0 + w * r1)
    else:
        path = (torch.sin((1 - w) * omega) * z0 + torch.sin(w * omega) * z1) / torch.sin(omega) * ((1 - w) * r0 + w * r1)'''),
        ("test_slerp",)),
    "slerp_is_lerp": Mistake("slerp", SLERP.format(body='''path = (1 - w) * z0 + w * z1'''), ("test_slerp",)),
    "slerp_nan_for_parallel_vectors": Mistake("slerp", SLERP.format(body='''omega = torch.acos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    path = (torch.sin((1 - w) * omega) * z0 + torch.sin(w * omega) * z1) / torch.sin(omega)'''), ("test_slerp",)),
    "slerp_swapped_weights": Mistake("slerp", SLERP.format(body='''omega = torch.acos((torch.dot(z0, z1) / (z0.norm() * z1.norm())).clamp(-1, 1))
    if torch.sin(omega) < 1e-4:
        path = (1 - w) * z0 + w * z1
    else:
        path = (torch.sin(w * omega) * z0 + torch.sin((1 - w) * omega) * z1) / torch.sin(omega)'''), ("test_slerp",)),
    "slerp_unit_vectors": Mistake("slerp", SLERP.format(body='''u0, u1 = z0 / z0.norm(), z1 / z1.norm()
    omega = torch.acos(torch.dot(u0, u1).clamp(-1, 1))
    if torch.sin(omega) < 1e-4:
        path = (1 - w) * u0 + w * u1
    else:
        path = (torch.sin((1 - w) * omega) * u0 + torch.sin(w * omega) * u1) / torch.sin(omega)'''), ("test_slerp",)),
    # Exercise 5: truncated_noise
    "truncation_redraws_uniform": Mistake("truncated_noise", TRUNCATED.format(body='''if threshold <= 0:
        raise ValueError("threshold must be positive")
    z = torch.randn(n, latent_dim, device=device)
    outside = z.abs() > threshold
    z[outside] = (torch.rand(int(outside.sum()), device=device) * 2 - 1) * threshold
    return z'''), ("test_truncated_noise",)),
    "truncation_clamps": Mistake("truncated_noise", TRUNCATED.format(body='''if threshold <= 0:
        raise ValueError("threshold must be positive")
    return torch.randn(n, latent_dim, device=device).clamp(-threshold, threshold)'''), ("test_truncated_noise",)),
    "truncation_accepts_zero": Mistake("truncated_noise", TRUNCATED.format(body='''z = torch.randn(n, latent_dim, device=device)
    while (z.abs() > threshold).any():
        z = torch.where(z.abs() > threshold, torch.randn_like(z), z)
    return z'''), ("test_truncated_noise",)),
    "truncation_ignores_device": Mistake("truncated_noise", TRUNCATED.format(body='''if threshold <= 0:
        raise ValueError("threshold must be positive")
    z = torch.randn(n, latent_dim)
    while (z.abs() > threshold).any():
        z = torch.where(z.abs() > threshold, torch.randn_like(z), z)
    return z'''), ("test_truncated_noise",)),
    "truncation_redraws_on_default_device": Mistake("truncated_noise", TRUNCATED.format(body='''if threshold <= 0:
        raise ValueError("threshold must be positive")
    z = torch.randn(n, latent_dim, device=device)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()))
        outside = z.abs() > threshold
    return z'''), ("test_truncated_noise",)),
    "truncation_uniform": Mistake("truncated_noise", TRUNCATED.format(body='''if threshold <= 0:
        raise ValueError("threshold must be positive")
    return (torch.rand(n, latent_dim, device=device) * 2 - 1) * threshold'''), ("test_truncated_noise",)),
}

# The message each mistake's failing test must show (checked in-process in test_notebook_02.py).
HINTS = {
    "generator_32x32": "32x32 images: that is the 64x64 DCGAN recipe",
    "generator_27x27": "27x27 images: kernel 3, stride 2, padding 1",
    "generator_batch_norm_on_output": "batch norm on G's output layer",
    "generator_sigmoid": "a sigmoid ends in [0, 1]",
    "discriminator_sigmoid": "it looks like probabilities",
    "discriminator_max_pooling": "MaxPool2d in the discriminator: DCGAN replaces pooling with strided convolutions",
    "discriminator_logits_b_1": "expected logits of shape (16,), got (16, 1)",
    "init_linear_only": "PyTorch's default initialisation",
    "init_variance_not_std": "not the variance",
    "init_conv_bias_none": "crashed",
    "init_uniform": "not normally distributed",
    "slerp_is_lerp": "that is linear interpolation (lerp), not slerp",
    "slerp_nan_for_parallel_vectors": "nan for two equal vectors",
    "slerp_swapped_weights": "t = 0 gives z1: the two weights are swapped",
    "slerp_unit_vectors": "t = 0.0 should give z0",
    "truncation_clamps": "that is clamping",
    "truncation_accepts_zero": "threshold=0.0 should raise a ValueError, got a loop that never ends",
    "truncation_ignores_device": "created on the default device instead of `device`",
    "truncation_redraws_on_default_device": "created on the default device instead of `device`",
    "truncation_uniform": "uniform values",
    "generator_fixed_width": "feature_maps does not change the generator",
    "generator_argument_order": "keep the arguments in the order (latent_dim, feature_maps, channels)",
    "discriminator_squeeze": ".squeeze() drops the batch dimension too",
    "discriminator_batch_norm_on_input": "batch norm on D's input layer",
    "init_xavier": "Conv2d(16, 32, 5) weights",
    "init_batch_norm_bias_untouched": "set the BatchNorm2d biases to 0",
    "slerp_in_place": "slerp changed z0 or z1 in place",
    "truncation_redraws_uniform": "uniform values",
}

# Wrong submissions, at most one mistake per cell. No graded test calls another exercise, so every mistake can
# share a submission with mistakes in other cells: their scores show each costs points only in its own cell.
WRONG_SUBMISSIONS = {
    "wrong_1": ["generator_32x32", "discriminator_sigmoid", "init_linear_only", "slerp_is_lerp", "truncation_clamps"],
    "wrong_2": ["generator_27x27", "discriminator_max_pooling", "init_variance_not_std",
                "slerp_nan_for_parallel_vectors", "truncation_accepts_zero"],
    "wrong_3": ["generator_batch_norm_on_output", "discriminator_logits_b_1", "init_conv_bias_none",
                "slerp_swapped_weights", "truncation_ignores_device"],
    "wrong_4": ["generator_sigmoid", "discriminator_squeeze", "init_uniform", "slerp_unit_vectors",
                "truncation_redraws_on_default_device"],
    "wrong_5": ["generator_fixed_width", "discriminator_batch_norm_on_input", "init_xavier", "slerp_in_place",
                "truncation_uniform"],
    "wrong_6": ["generator_argument_order", "init_batch_norm_bias_untouched", "truncation_redraws_uniform"],
}

# Other correct ways to write the exercises: they must get full marks too.
ALTERNATIVES = {
    "dcgan_generator": '''
class DCGANGenerator(nn.Module):
    """A linear projection to 7x7 maps, then transposed convolutions (kernel 3, output_padding 1)."""

    def __init__(self, latent_dim=100, feature_maps=64, channels=1):
        super().__init__()
        self.f = feature_maps
        self.project = nn.Sequential(nn.Linear(latent_dim, 2 * feature_maps * 49, bias=False),
                                     nn.BatchNorm1d(2 * feature_maps * 49), nn.LeakyReLU(0.2))
        self.up1 = nn.ConvTranspose2d(2 * feature_maps, feature_maps, 3, 2, 1, output_padding=1)
        self.norm = nn.BatchNorm2d(feature_maps)
        self.up2 = nn.ConvTranspose2d(feature_maps, channels, 3, 2, 1, output_padding=1)

    def forward(self, z):
        x = self.project(z).reshape(-1, 2 * self.f, 7, 7)
        return torch.tanh(self.up2(F.relu(self.norm(self.up1(x)))))
''',
    "dcgan_discriminator": '''
class DCGANDiscriminator(nn.Module):
    """Kernel-3 strided convolutions, dropout instead of batch norm, and a linear read-out."""

    def __init__(self, channels=1, feature_maps=64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, feature_maps, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Conv2d(feature_maps, 2 * feature_maps, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        )
        self.read_out = nn.Linear(2 * feature_maps * 7 * 7, 1)

    def forward(self, x):
        return self.read_out(self.features(x).flatten(1)).squeeze(1)
''',
    "weights_init": '''
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)
''',
    "slerp": '''
def slerp(z0, z1, t):
    """Slerp of the directions, with the norms interpolated linearly."""
    scalar = not isinstance(t, torch.Tensor)
    t = torch.tensor([t], device=z0.device) if scalar else t
    r0, r1 = torch.linalg.vector_norm(z0), torch.linalg.vector_norm(z1)
    u0, u1 = z0 / r0, z1 / r1
    omega = torch.arccos(torch.clip(u0 @ u1, -1.0, 1.0))
    so = torch.sin(omega)
    t = t.unsqueeze(1)
    if so.abs() < 1e-6:
        out = (1.0 - t) * z0 + t * z1
    else:
        out = (torch.sin((1.0 - t) * omega) / so * u0 + torch.sin(t * omega) / so * u1) * ((1 - t) * r0 + t * r1)
    return out[0] if scalar else out
''',
    "truncated_noise": '''
def truncated_noise(n, latent_dim, threshold, device=None):
    """Inverse-CDF sampling: uniform between Phi(-c) and Phi(c), mapped back through the normal quantile."""
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    normal = torch.distributions.Normal(0.0, 1.0)
    low, high = normal.cdf(torch.tensor(-threshold)), normal.cdf(torch.tensor(threshold))
    u = low + (high - low) * torch.rand(n, latent_dim, device=device)
    return normal.icdf(u)
''',
}

SPEC = FlowSpec(
    assignment="02_dcgan",
    notebook="dcgan",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    feedback_phrases={
        "wrong_1": [HINTS["generator_32x32"], HINTS["discriminator_sigmoid"], HINTS["slerp_is_lerp"],
                    HINTS["truncation_clamps"], "check_image_shape(G_test(z), (4, 1, 28, 28))"],  # visible test code stays
        "wrong_2": [HINTS["generator_27x27"], HINTS["truncation_accepts_zero"]],
        "wrong_3": [HINTS["generator_batch_norm_on_output"], HINTS["truncation_ignores_device"]],
        "wrong_4": [HINTS["truncation_redraws_on_default_device"]],
    },
)
graded = graded_course_fixture(SPEC)
