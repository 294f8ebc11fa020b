"""The real nbgrader workflow on notebook 01: generate, autograde right and wrong submissions, feedback."""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

# Typical mistakes: the answer that replaces one solution cell, and the test cells that must lose their points.
MISTAKES = {
    "uniform_noise": Mistake("sample_noise", '''
def sample_noise(batch_size, latent_dim, device=None):
    return torch.rand(batch_size, latent_dim, device=device)
''', ("test_sample_noise",)),
    "no_tanh": Mistake("generator", '''
class Generator(nn.Module):
    def __init__(self, latent_dim=64, hidden_dim=256, img_shape=(1, 28, 28)):
        super().__init__()
        self.img_shape = tuple(img_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden_dim, int(torch.tensor(img_shape).prod())))

    def forward(self, z):
        return self.net(z).view(len(z), *self.img_shape)
''', ("test_generator",)),
    "probabilities": Mistake("discriminator", '''
class Discriminator(nn.Module):
    def __init__(self, img_shape=(1, 28, 28), hidden_dim=256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(img_shape).prod()), hidden_dim),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden_dim, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x).squeeze(1)
''', ("test_discriminator",)),
    "swapped_labels": Mistake("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()
''', ("test_discriminator_loss",)),
    "log_sigmoid_overflow": Mistake("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()
''', ("test_discriminator_loss",)),
    "sum_not_mean": Mistake("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()
''', ("test_discriminator_loss",)),
    "saturating": Mistake("generator_loss", '''
def generator_loss(fake_logits):
    return -F.softplus(fake_logits).mean()
''', ("test_generator_loss",)),
    "no_zero_grad": Mistake("train_step", '''
def train_step(G, D, opt_G, opt_D, real_images, latent_dim):
    fake = G(sample_noise(len(real_images), latent_dim, real_images.device))
    d_loss = discriminator_loss(D(real_images), D(fake.detach()))
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(D(fake))
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', ("test_train_step",)),
    "d_step_moves_g": Mistake("train_step", '''
def train_step(G, D, opt_G, opt_D, real_images, latent_dim):
    fake = G(sample_noise(len(real_images), latent_dim, real_images.device))
    opt_D.zero_grad()
    opt_G.zero_grad()
    d_loss = discriminator_loss(D(real_images), D(fake))
    d_loss.backward()
    opt_D.step()
    opt_G.step()
    opt_G.zero_grad()
    g_loss = generator_loss(D(G(sample_noise(len(real_images), latent_dim, real_images.device))))
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', ("test_train_step",)),
    "noise_on_default_device": Mistake("train_step", '''
def train_step(G, D, opt_G, opt_D, real_images, latent_dim):
    fake = G(torch.randn(len(real_images), latent_dim))
    opt_D.zero_grad()
    d_loss = discriminator_loss(D(real_images), D(fake.detach()))
    d_loss.backward()
    opt_D.step()
    opt_G.zero_grad()
    g_loss = generator_loss(D(fake))
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', ("test_train_step",)),
    "retain_graph_leak": Mistake("train_step", '''
def train_step(G, D, opt_G, opt_D, real_images, latent_dim):
    opt_D.zero_grad()
    opt_G.zero_grad()
    fake = G(sample_noise(len(real_images), latent_dim, real_images.device))
    d_loss = discriminator_loss(D(real_images), D(fake))  # no detach: the error is silenced below, not fixed
    d_loss.backward(retain_graph=True)
    opt_D.step()
    g_loss = generator_loss(D(fake))
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', ("test_train_step",)),
    "noise_float64": Mistake("sample_noise", '''
def sample_noise(batch_size, latent_dim, device=None):
    return torch.randn(batch_size, latent_dim, dtype=torch.float64, device=device)
''', ("test_sample_noise",)),
    "noise_ignores_device": Mistake("sample_noise", '''
def sample_noise(batch_size, latent_dim, device=None):
    return torch.randn(batch_size, latent_dim)
''', ("test_sample_noise",)),
    "noise_transposed": Mistake("sample_noise", '''
def sample_noise(batch_size, latent_dim, device=None):
    return torch.randn(latent_dim, batch_size, device=device)
''', ("test_sample_noise",)),
    "d_loss_item": Mistake("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).item()
''', ("test_discriminator_loss",)),
}

# Wrong submissions, at most one mistake per cell. A mistake in a function that train_step calls (sample_noise,
# the losses) comes with a correct train_step: its full marks show that the mistake costs points only in its
# own cell (issue 5). Each train_step mistake has a submission of its own, with the functions it calls correct.
WRONG_SUBMISSIONS = {
    "wrong_1": ["uniform_noise", "no_tanh", "swapped_labels", "saturating"],
    "wrong_2": ["noise_float64", "probabilities", "log_sigmoid_overflow"],
    "wrong_3": ["noise_ignores_device", "sum_not_mean"],
    "wrong_4": ["noise_transposed", "d_loss_item"],
    "wrong_5": ["no_zero_grad"],
    "wrong_6": ["d_step_moves_g"],
    "wrong_7": ["noise_on_default_device"],
    "wrong_8": ["retain_graph_leak"],
}

# Other correct ways to write the exercises: they must get full marks too.
ALTERNATIVES = {
    "sample_noise": '''
def sample_noise(batch_size, latent_dim, device=None):
    return torch.normal(0.0, 1.0, size=(batch_size, latent_dim), device=device)
''',
    "discriminator_loss": '''
def discriminator_loss(real_logits, fake_logits):
    bce = nn.BCEWithLogitsLoss()
    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
''',
    "generator_loss": '''
def generator_loss(fake_logits):
    return -F.logsigmoid(fake_logits).mean()
''',
    "generator": '''
class Generator(nn.Module):
    def __init__(self, latent_dim=64, hidden_dim=256, img_shape=(1, 28, 28)):
        super().__init__()
        self.img_shape = img_shape
        self.fc1 = nn.Linear(latent_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, int(torch.tensor(img_shape).prod()))

    def forward(self, z):
        return torch.tanh(self.fc2(F.relu(self.fc1(z)))).reshape(-1, *self.img_shape)
''',
    "discriminator": '''
class Discriminator(nn.Module):
    def __init__(self, img_shape=(1, 28, 28), hidden_dim=256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(img_shape).prod()), hidden_dim),
                                 nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(hidden_dim, 1))

    def forward(self, x):
        return self.net(x).view(-1)
''',
    "train_step": '''
def train_step(G, D, opt_G, opt_D, real_images, latent_dim):
    n, device = real_images.shape[0], real_images.device
    with torch.no_grad():
        fake = G(z=sample_noise(n, latent_dim, device))  # models called with keywords are fine too
    d_loss = discriminator_loss(D(x=real_images), D(x=fake))
    opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(D(G(z=sample_noise(n, latent_dim, device))))
    opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_G.step()
    return {"d_loss": float(d_loss), "g_loss": float(g_loss)}
''',
}



SPEC = FlowSpec(
    assignment="01_vanilla_gan",
    notebook="vanilla_gan",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    calls={"train_step": ["sample_noise", "discriminator_loss", "generator_loss"]},
    feedback_phrases={
        "wrong_1": ["looks like the saturating loss", "looks like swapped labels",
                    'assert_scalar(loss, "generator_loss")'],  # the visible test code is still shown
        "wrong_2": ["Note: exercise 1 (sample_noise) is not right yet (sample_noise returned torch.float64"],
        "wrong_4": ["Note: exercise 4 (discriminator_loss) is not right yet"],
        "wrong_5": ["opt_D.step() used stale gradients"],
        "wrong_8": ["the generator's update depends on the discriminator loss"],
    },
)
graded = graded_course_fixture(SPEC)
