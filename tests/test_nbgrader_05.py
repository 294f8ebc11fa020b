"""The real nbgrader workflow on notebook 05 (conditional GAN): generate, autograde right and wrong submissions,
feedback."""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

# Typical mistakes: the answer that replaces one solution cell, and the test cell that must lose its points. Most
# of them are the reference answer with one part replaced, so they are built from these templates.
GENERATOR = '''
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim=64, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes, f = num_classes, 32
        self.net = nn.Sequential(
            nn.ConvTranspose2d({inputs}, 2 * f, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * f), nn.ReLU(True),
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(True),
            nn.ConvTranspose2d(f, img_shape[0], 4, 2, 1), {last},
        )

    def forward(self, z, labels):
        h = {h}
        return self.net(h.view(len(h), -1, 1, 1))
'''
DISCRIMINATOR = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes, f = num_classes, 32
        self.body = nn.Sequential(
            nn.Conv2d(img_shape[0], f, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 4 * f, 7, 1, 0), nn.LeakyReLU(0.2, True),
            nn.Flatten(),
        )
        self.psi = nn.Linear(4 * f, 1)
        self.embed = nn.Linear({classes}, 4 * f, bias=False)

    def forward(self, x, labels):
        h = self.body(x)
        return {logits}
'''
STEP = '''
def conditional_train_step(G, D, opt_G, opt_D, real_images, labels, latent_dim):
    device = real_images.device
    fake_labels = {fake_labels}
    fake_images = G({noise}, fake_labels)

    opt_D.zero_grad()
    d_loss = discriminator_loss(D(real_images, {real_judged_with}), D(fake_images.detach(), {fakes_judged_with}))
    d_loss.backward()
    opt_D.step()

    opt_G.zero_grad()
    g_loss = generator_loss(D(fake_images, {fakes_judged_with}))
    g_loss.backward()
    opt_G.step()
    return {result}
'''
PROJECTION = "self.psi(h).view(-1) + (self.embed(one_hot(labels, self.num_classes)) * h).sum(dim=1)"


def generator(inputs: str = "latent_dim + num_classes", last: str = "nn.Tanh()",
              h: str = "torch.cat([z, one_hot(labels, self.num_classes)], dim=1)") -> str:
    """A ConditionalGenerator answer, correct unless one of its parts is replaced."""
    return GENERATOR.format(inputs=inputs, last=last, h=h)


def discriminator(classes: str = "num_classes", logits: str = PROJECTION) -> str:
    """A ConditionalDiscriminator answer, correct unless one of its parts is replaced."""
    return DISCRIMINATOR.format(classes=classes, logits=logits)


def step(fake_labels: str = "torch.randint(0, 10, (len(real_images),), device=device)",
         noise: str = "sample_noise(len(real_images), latent_dim, device=device)", real_judged_with: str = "labels",
         fakes_judged_with: str = "fake_labels", result: str = '{"d_loss": d_loss.item(), "g_loss": g_loss.item()}'
         ) -> str:
    """A conditional_train_step answer, correct unless one of its parts is replaced."""
    return STEP.format(fake_labels=fake_labels, noise=noise, real_judged_with=real_judged_with,
                       fakes_judged_with=fakes_judged_with, result=result)


def mistake(cell: str, code: str) -> Mistake:
    """A wrong answer to `cell` that must cost the points of its own test cell, and only those."""
    return Mistake(cell, code, (f"test_{cell}",))


MISTAKES = {
    # exercise 1: one_hot
    "one_hot_width_from_largest_label": mistake("one_hot", '''
def one_hot(labels, num_classes=10):
    return F.one_hot(labels).float()
'''),
    "one_hot_int64": mistake("one_hot", '''
def one_hot(labels, num_classes=10):
    return F.one_hot(labels, num_classes)
'''),
    "one_hot_off_by_one": mistake("one_hot", '''
def one_hot(labels, num_classes=10):
    if (labels < 0).any() or (labels >= num_classes).any():
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    codes = torch.zeros(len(labels), num_classes, device=labels.device)
    codes[torch.arange(len(labels), device=labels.device), labels - 1] = 1.0  # digit 1 -> first column
    return codes
'''),
    "one_hot_wraps_negative_labels": mistake("one_hot", '''
def one_hot(labels, num_classes=10):
    return torch.eye(num_classes, device=labels.device)[labels]
'''),
    "one_hot_on_default_device": mistake("one_hot", '''
def one_hot(labels, num_classes=10):
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    codes = torch.zeros(len(labels), num_classes)
    codes[torch.arange(len(labels)), labels] = 1.0
    return codes
'''),
    # exercise 2: ConditionalGenerator
    "generator_ignores_labels": mistake("conditional_generator", generator(inputs="latent_dim", h="z")),
    "generator_concatenates_along_the_batch_axis": mistake(
        "conditional_generator", generator(h="torch.cat([z, one_hot(labels, self.num_classes)], dim=0)")),
    "generator_hard_coded_ten_classes": mistake(
        "conditional_generator", generator(inputs="latent_dim + 10", h="torch.cat([z, one_hot(labels, 10)], dim=1)")),
    "generator_sigmoid": mistake("conditional_generator", generator(last="nn.Sigmoid()")),
    "generator_code_on_default_device": mistake(
        "conditional_generator", generator(h="torch.cat([z, torch.eye(self.num_classes)[labels]], dim=1)")),
    "generator_squeezes_the_batch": mistake("conditional_generator", '''
class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim=64, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes, self.img_shape = num_classes, tuple(img_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim + num_classes, 256), nn.LeakyReLU(0.2),
                                 nn.Linear(256, math.prod(img_shape)), nn.Tanh())

    def forward(self, z, labels):
        return self.net(torch.cat([z, one_hot(labels, self.num_classes)], dim=1)).view(-1, *self.img_shape).squeeze(0)
'''),
    "generator_labels_shifted_by_one": mistake(
        "conditional_generator", generator(h="torch.cat([z, one_hot(labels - 1, self.num_classes)], dim=1)")),
    # exercise 3: ConditionalDiscriminator
    "discriminator_ignores_labels": mistake("conditional_discriminator", discriminator(logits="self.psi(h).view(-1)")),
    "discriminator_sigmoid": mistake("conditional_discriminator", discriminator(logits=f"torch.sigmoid({PROJECTION})")),
    "discriminator_label_maps_on_the_batch_axis": mistake("conditional_discriminator", '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes, f = num_classes, 32
        self.net = nn.Sequential(
            nn.Conv2d(img_shape[0] + num_classes, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * f, 1, 7, 1, 0),
        )

    def forward(self, x, labels):
        maps = one_hot(labels, self.num_classes)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, maps], dim=0)).view(-1)
'''),
    "discriminator_hard_coded_ten_classes": mistake(
        "conditional_discriminator", discriminator(classes="10", logits=PROJECTION.replace(", self.num_classes", ""))),
    "discriminator_code_on_default_device": mistake("conditional_discriminator", discriminator(
        logits=PROJECTION.replace("one_hot(labels, self.num_classes)", "torch.eye(self.num_classes)[labels]"))),
    "discriminator_squeezes_the_batch": mistake("conditional_discriminator", '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Conv2d(img_shape[0] + num_classes, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 1, 7, 1, 0),
        )

    def forward(self, x, labels):
        maps = one_hot(labels, self.num_classes)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, maps], dim=1)).squeeze()
'''),
    "discriminator_labels_shifted_by_one": mistake("conditional_discriminator", discriminator(
        logits=PROJECTION.replace("one_hot(labels, self.num_classes)", "one_hot(labels + 1, self.num_classes)"))),
    "discriminator_label_only_at_the_last_layer": mistake("conditional_discriminator", '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes = num_classes
        self.body = nn.Sequential(nn.Conv2d(img_shape[0], 32, 4, 2, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten())
        self.out = nn.Linear(64 * 7 * 7 + num_classes, 1)

    def forward(self, x, labels):
        return self.out(torch.cat([self.body(x), one_hot(labels, self.num_classes)], dim=1)).view(-1)
'''),
    # exercise 4: conditional_train_step
    "step_fakes_judged_with_the_real_labels": mistake("conditional_train_step", step(fakes_judged_with="labels")),
    "step_fakes_judged_with_new_random_labels": mistake("conditional_train_step", step(
        fake_labels="labels", fakes_judged_with="torch.randint(0, 10, (len(labels),), device=device)")),
    "step_real_judged_with_shuffled_labels": mistake("conditional_train_step", step(
        real_judged_with="labels[torch.randperm(len(labels), device=device)]")),
    "step_real_judged_with_the_fakes_labels": mistake("conditional_train_step", step(real_judged_with="fake_labels")),
    "step_all_fakes_one_class": mistake("conditional_train_step", step(
        fake_labels="torch.randint(0, 10, (1,), device=device).repeat(len(real_images))")),
    "step_same_fake_labels_every_step": mistake("conditional_train_step", step(
        fake_labels="torch.randint(0, 10, (len(real_images),), device=device, "
                    "generator=torch.Generator(device).manual_seed(0))")),
    "step_noise_on_default_device": mistake(
        "conditional_train_step", step(noise="sample_noise(len(real_images), latent_dim)")),
    "step_labels_on_default_device": mistake(
        "conditional_train_step", step(fake_labels="torch.randint(0, 10, (len(real_images),))")),
    "step_no_zero_grad": mistake("conditional_train_step", step().replace("    opt_D.zero_grad()\n", "")
                                 .replace("    opt_G.zero_grad()\n", "")),
    "step_no_detach_retain_graph": mistake("conditional_train_step", '''
def conditional_train_step(G, D, opt_G, opt_D, real_images, labels, latent_dim):
    device = real_images.device
    opt_D.zero_grad()
    opt_G.zero_grad()
    fake_labels = torch.randint(0, 10, (len(real_images),), device=device)
    fake_images = G(sample_noise(len(real_images), latent_dim, device=device), fake_labels)
    d_loss = discriminator_loss(D(real_images, labels), D(fake_images, fake_labels))
    d_loss.backward(retain_graph=True)  # "Trying to backward through the graph a second time" without it
    opt_D.step()
    g_loss = generator_loss(D(fake_images, fake_labels))
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
'''),
    "step_generator_first": mistake("conditional_train_step", '''
def conditional_train_step(G, D, opt_G, opt_D, real_images, labels, latent_dim):
    device = real_images.device
    fake_labels = torch.randint(0, 10, (len(real_images),), device=device)
    fake_images = G(sample_noise(len(real_images), latent_dim, device=device), fake_labels)

    opt_G.zero_grad()
    g_loss = generator_loss(D(fake_images, fake_labels))
    g_loss.backward()
    opt_G.step()

    opt_D.zero_grad()
    d_loss = discriminator_loss(D(real_images, labels), D(fake_images.detach(), fake_labels))
    d_loss.backward()
    opt_D.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
'''),
    "step_generator_update_on_detached_fakes": mistake("conditional_train_step", step().replace(
        "g_loss = generator_loss(D(fake_images,", "g_loss = generator_loss(D(fake_images.detach(),")),
    "step_discriminator_loss_arguments_swapped": mistake("conditional_train_step", step().replace(
        "discriminator_loss(D(real_images, labels), D(fake_images.detach(), fake_labels))",
        "discriminator_loss(D(fake_images.detach(), fake_labels), D(real_images, labels))")),
    "step_negated_generator_loss": mistake("conditional_train_step", step().replace(
        "g_loss = generator_loss(", "g_loss = -generator_loss(")),
    "step_no_detach": mistake("conditional_train_step", step().replace("fake_images.detach()", "fake_images")),
    "discriminator_sums_over_the_batch": mistake("conditional_discriminator", discriminator(
        logits=PROJECTION.replace("* h).sum(dim=1)", "@ h.T).sum(dim=1)"))),
    "discriminator_head_not_flattened": mistake("conditional_discriminator", discriminator(
        logits=PROJECTION.replace("self.psi(h).view(-1)", "self.psi(h)"))),
    "step_returns_tensors": mistake(
        "conditional_train_step", step(result='{"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}')),
}

HINTS = {
    "one_hot_width_from_largest_label": "whatever labels the batch happens to hold",
    "one_hot_int64": "the networks need float32 codes",
    "one_hot_off_by_one": "labels are off by -1",
    "one_hot_wraps_negative_labels": "a negative index would silently wrap around to the last class",
    "one_hot_on_default_device": "one_hot creates a tensor on the default device instead of labels.device",
    "generator_ignores_labels": "did not change its image: the labels are ignored",
    "generator_concatenates_along_the_batch_axis": "dim=0 would stack them as extra samples",
    "generator_hard_coded_ten_classes": "is 10 hard-coded somewhere?",
    "generator_sigmoid": "a sigmoid ends in [0, 1], but the data lie in [-1, 1]",
    "generator_code_on_default_device": "create new tensors with device=z.device",
    "generator_squeezes_the_batch": "one noise vector and one label (in eval mode) should give one image",
    "generator_labels_shifted_by_one": "are the labels shifted by one",
    "discriminator_ignores_labels": "did not change its logit: the discriminator ignores the labels",
    "discriminator_sigmoid": "it looks like probabilities (a sigmoid at the end)",
    "discriminator_label_maps_on_the_batch_axis": "label maps go along dim=1 (extra channels)",
    "discriminator_hard_coded_ten_classes": "is 10 hard-coded somewhere?",
    "discriminator_code_on_default_device": "create new tensors with device=x.device",
    "discriminator_squeezes_the_batch": ".squeeze() drops the batch dimension too",
    "discriminator_labels_shifted_by_one": "are the labels shifted by one",
    "discriminator_label_only_at_the_last_layer": "the label only adds a score of its own to the logit",
    "step_fakes_judged_with_the_real_labels": "the fakes were judged with other labels than the ones they were "
                                              "generated for",
    "step_fakes_judged_with_new_random_labels": "judge each fake with the label G was asked to draw",
    "step_real_judged_with_shuffled_labels": "the real images were judged with labels that are not their own",
    "step_real_judged_with_the_fakes_labels": "the real images were judged with labels that are not their own",
    "step_all_fakes_one_class": "every fake was asked for the same digit",
    "step_same_fake_labels_every_step": "the fake labels are the same at every step",
    "step_noise_on_default_device": "pass device=real_images.device to sample_noise and torch.randint",
    "step_labels_on_default_device": "pass device=real_images.device to sample_noise and torch.randint",
    "step_no_zero_grad": "opt_D.step() used stale gradients",
    "step_no_detach_retain_graph": "the generator's gradients are not those of generator_loss(D(G(z, y), y)) alone",
    "step_generator_first": "expected one opt_D.step() and then one opt_G.step()",
    "step_returns_tensors": "return plain Python floats (loss.item()), not tensors",
    "step_generator_update_on_detached_fakes": "the generator did not learn",
    "step_discriminator_loss_arguments_swapped": "has the real and fake logits swapped",
    "step_negated_generator_loss": "is negative: the non-saturating loss",
    "step_no_detach": "detach the fakes in the D update",
    "discriminator_sums_over_the_batch": "each logit must depend on its own image only",
    "discriminator_head_not_flattened": "broadcasts to (B, B)",
}

# Wrong submissions, at most one mistake per cell. The networks call one_hot, so a one_hot mistake comes with correct
# networks: their full marks show that the test cells of exercises 2 and 3 grade them with a stand-in for one_hot.
# The training step's test uses networks of its own, so its mistakes may come with any other.
WRONG_SUBMISSIONS = {
    "wrong_1": ["one_hot_width_from_largest_label", "step_fakes_judged_with_the_real_labels"],
    "wrong_2": ["one_hot_int64", "step_fakes_judged_with_new_random_labels"],
    "wrong_3": ["one_hot_off_by_one", "step_real_judged_with_shuffled_labels"],
    "wrong_4": ["one_hot_wraps_negative_labels", "step_real_judged_with_the_fakes_labels"],
    "wrong_5": ["one_hot_on_default_device", "step_all_fakes_one_class"],
    "wrong_6": ["generator_ignores_labels", "discriminator_ignores_labels", "step_same_fake_labels_every_step"],
    "wrong_7": ["generator_concatenates_along_the_batch_axis", "discriminator_label_maps_on_the_batch_axis",
                "step_noise_on_default_device"],
    "wrong_8": ["generator_hard_coded_ten_classes", "discriminator_hard_coded_ten_classes",
                "step_labels_on_default_device"],
    "wrong_9": ["generator_sigmoid", "discriminator_sigmoid", "step_no_zero_grad"],
    "wrong_10": ["generator_code_on_default_device", "discriminator_code_on_default_device",
                 "step_no_detach_retain_graph"],
    "wrong_11": ["generator_squeezes_the_batch", "discriminator_squeezes_the_batch", "step_generator_first"],
    "wrong_12": ["generator_labels_shifted_by_one", "discriminator_labels_shifted_by_one", "step_returns_tensors"],
    "wrong_13": ["discriminator_label_only_at_the_last_layer", "step_generator_update_on_detached_fakes"],
    "wrong_14": ["discriminator_sums_over_the_batch", "step_discriminator_loss_arguments_swapped"],
    "wrong_15": ["discriminator_head_not_flattened", "step_negated_generator_loss"],
    "wrong_16": ["step_no_detach"],
}

# Other correct ways to write the exercises: they must get full marks too. ALTERNATIVES go through nbgrader as one
# submission; MORE_ALTERNATIVES are checked in-process (test_notebook_05.py), cell by cell.
ALTERNATIVES = {
    "one_hot": '''
def one_hot(labels, num_classes=10):
    """Rows of the identity, after a range check (a negative index would wrap around)."""
    if ((labels < 0) | (labels >= num_classes)).any():
        raise IndexError(f"labels must be in [0, {num_classes}), got {labels.tolist()}")
    return torch.eye(num_classes, device=labels.device)[labels]
''',
    "conditional_generator": '''
class ConditionalGenerator(nn.Module):
    """A learned label embedding concatenated to z, then an MLP (PyTorch-GAN's cgan.py)."""

    def __init__(self, latent_dim=64, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.img_shape = img_shape
        self.label_emb = nn.Embedding(num_classes, num_classes)
        self.model = nn.Sequential(
            nn.Linear(latent_dim + num_classes, 128), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(128, 256), nn.BatchNorm1d(256, 0.8), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, math.prod(img_shape)), nn.Tanh(),
        )

    def forward(self, noise, labels):
        gen_input = torch.cat((self.label_emb(labels), noise), -1)
        img = self.model(gen_input)
        return img.view(img.size(0), *self.img_shape)
''',
    "conditional_discriminator": '''
class ConditionalDiscriminator(nn.Module):
    """Mirza & Osindero: one-hot label maps broadcast as extra input channels of a convolutional D."""

    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes = num_classes
        self.conv = nn.Sequential(
            nn.Conv2d(img_shape[0] + num_classes, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        )
        self.out = nn.Linear(64 * 7 * 7, 1)

    def forward(self, x, labels):
        maps = one_hot(labels, self.num_classes).view(len(x), -1, 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return self.out(self.conv(torch.cat([x, maps], dim=1)).flatten(1)).flatten()
''',
    "conditional_train_step": '''
def conditional_train_step(G, D, opt_G, opt_D, real_images, labels, latent_dim):
    """The real labels for the fakes, one D call on [real; fake], BCE with logits written out."""
    n = real_images.size(0)
    z = torch.randn(n, latent_dim, device=real_images.device)
    fake = G(z, labels)
    logits = D(torch.cat([real_images, fake.detach()]), torch.cat([labels, labels]))
    targets = torch.cat([torch.ones(n, device=logits.device), torch.zeros(n, device=logits.device)])
    d_loss = 2 * F.binary_cross_entropy_with_logits(logits, targets)
    opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_D.step()
    g_loss = F.binary_cross_entropy_with_logits(D(fake, labels), torch.ones(n, device=real_images.device))
    opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_G.step()
    return dict(d_loss=float(d_loss), g_loss=float(g_loss))
''',
}

MORE_ALTERNATIVES = {
    "one_hot": ['''
def one_hot(labels, num_classes=10):
    """scatter_ into zeros on the labels' device."""
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError("label out of range")
    codes = torch.zeros(labels.shape[0], num_classes, device=labels.device)
    return codes.scatter_(1, labels.view(-1, 1), 1.0)
''', '''
def one_hot(labels, num_classes=10):
    """Zeros, then a 1 at (row, label), indexing on the labels' device."""
    if not bool(((labels >= 0) & (labels < num_classes)).all()):
        raise ValueError(f"labels must be between 0 and {num_classes - 1}")
    codes = torch.zeros((len(labels), num_classes), dtype=torch.float32, device=labels.device)
    codes[torch.arange(len(labels), device=labels.device), labels] = 1
    return codes
''', '''
def one_hot(labels, num_classes=10):
    """F.one_hot raises on labels out of range by itself (the contract accepts its error)."""
    return F.one_hot(labels, num_classes=num_classes).to(torch.float32)
'''],
    "conditional_generator": ['''
class ConditionalGenerator(nn.Module):
    """An MLP on [z, one_hot(y)] (Mirza & Osindero)."""

    def __init__(self, latent_dim=64, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes, self.img_shape = num_classes, tuple(img_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim + num_classes, 256), nn.ReLU(),
                                 nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, math.prod(img_shape)), nn.Tanh())

    def forward(self, z, labels):
        return self.net(torch.cat([z, one_hot(labels, self.num_classes)], dim=1)).view(-1, *self.img_shape)
''', '''
class ConditionalGenerator(nn.Module):
    """A linear projection of [z, one_hot(y)] to 64 maps of 7x7, then transposed convolutions to 28x28."""

    def __init__(self, latent_dim=64, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.num_classes = num_classes
        self.project = nn.Sequential(nn.Linear(latent_dim + num_classes, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7),
                                     nn.ReLU())
        self.up = nn.Sequential(nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
                                nn.ConvTranspose2d(32, img_shape[0], 4, 2, 1), nn.Tanh())

    def forward(self, z, labels):
        h = self.project(torch.cat((z, one_hot(labels, self.num_classes)), 1))
        return self.up(h.view(-1, 64, 7, 7))
''', '''
class ConditionalGenerator(nn.Module):
    """The noise multiplied by a label embedding (PyTorch-GAN's acgan.py), then upsampling convolutions."""

    def __init__(self, latent_dim=64, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.label_emb = nn.Embedding(num_classes, latent_dim)
        self.l1 = nn.Sequential(nn.Linear(latent_dim, 32 * 7 * 7))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(32), nn.Upsample(scale_factor=2), nn.Conv2d(32, 32, 3, stride=1, padding=1),
            nn.BatchNorm2d(32, 0.8), nn.LeakyReLU(0.2, inplace=True), nn.Upsample(scale_factor=2),
            nn.Conv2d(32, img_shape[0], 3, stride=1, padding=1), nn.Tanh(),
        )

    def forward(self, noise, labels):
        out = self.l1(torch.mul(self.label_emb(labels), noise))
        return self.conv_blocks(out.view(out.shape[0], 32, 7, 7))
'''],
    "conditional_discriminator": ['''
class ConditionalDiscriminator(nn.Module):
    """The projection discriminator with an nn.Embedding for the labels."""

    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(img_shape[0], 32, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.linear = nn.Linear(64, 1)
        self.embed = nn.Embedding(num_classes, 64)

    def forward(self, x, labels):
        h = self.features(x)
        return (self.linear(h) + (self.embed(labels) * h).sum(dim=1, keepdim=True)).squeeze(1)
''', '''
class ConditionalDiscriminator(nn.Module):
    """An MLP on [flattened image, label embedding], with dropout (PyTorch-GAN's cgan.py)."""

    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.label_embedding = nn.Embedding(num_classes, num_classes)
        self.model = nn.Sequential(
            nn.Linear(num_classes + math.prod(img_shape), 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 512), nn.Dropout(0.4), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 1),
        )

    def forward(self, img, labels):
        d_in = torch.cat((img.view(img.size(0), -1), self.label_embedding(labels)), -1)
        return self.model(d_in).view(-1)
''', '''
class ConditionalDiscriminator(nn.Module):
    """The label embedded as one extra 28x28 channel."""

    def __init__(self, num_classes=10, img_shape=(1, 28, 28)):
        super().__init__()
        self.img_shape = tuple(img_shape)
        self.label_map = nn.Embedding(num_classes, img_shape[1] * img_shape[2])
        self.net = nn.Sequential(
            nn.Conv2d(img_shape[0] + 1, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64 * 7 * 7, 1),
        )

    def forward(self, x, labels):
        maps = self.label_map(labels).view(-1, 1, *self.img_shape[1:])
        return self.net(torch.cat([x, maps], dim=1)).view(-1)
'''],
    "conditional_train_step": [step(fake_labels="labels"), '''
def conditional_train_step(G, D, opt_G, opt_D, real_images, labels, latent_dim):
    """Fakes without a graph for the D update, fresh fakes (new noise, new labels) for the G update."""
    batch, device = len(real_images), real_images.device
    y_fake = torch.randint(10, (batch,), device=device)
    with torch.no_grad():
        fake = G(sample_noise(batch, latent_dim, device), y_fake)
    d_loss = discriminator_loss(D(real_images, labels), D(fake, y_fake))
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    y_fake = torch.randint_like(labels, 0, 10)
    g_loss = generator_loss(D(G(sample_noise(batch, latent_dim, device), y_fake), y_fake))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', '''
def conditional_train_step(G, D, opt_G, opt_D, real_images, labels, latent_dim):
    """BCE with logits written out as log-sigmoids."""
    device = real_images.device
    y = torch.randint(0, 10, labels.shape, device=device)
    fake = G(torch.randn(real_images.shape[0], latent_dim, device=device), y)
    for p in D.parameters():
        p.grad = None
    d_loss = -(F.logsigmoid(D(real_images, labels)).mean() + F.logsigmoid(-D(fake.detach(), y)).mean())
    d_loss.backward()
    opt_D.step()
    opt_G.zero_grad()
    g_loss = -F.logsigmoid(D(fake, y)).mean()
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
'''],
}

SPEC = FlowSpec(
    assignment="05_cgan",
    notebook="cgan",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    calls={"conditional_generator": ["one_hot"], "conditional_discriminator": ["one_hot"]},
    feedback_phrases={
        "wrong_1": [HINTS["one_hot_width_from_largest_label"], HINTS["step_fakes_judged_with_the_real_labels"]],
        "wrong_3": [HINTS["one_hot_off_by_one"], HINTS["step_real_judged_with_shuffled_labels"]],
        "wrong_6": [HINTS["generator_ignores_labels"], HINTS["discriminator_ignores_labels"]],
        "wrong_7": [HINTS["generator_concatenates_along_the_batch_axis"],
                    HINTS["discriminator_label_maps_on_the_batch_axis"]],
        "wrong_8": [HINTS["generator_hard_coded_ten_classes"], HINTS["discriminator_hard_coded_ten_classes"]],
        "wrong_10": [HINTS["generator_code_on_default_device"], HINTS["step_no_detach_retain_graph"]],
        "wrong_13": [HINTS["discriminator_label_only_at_the_last_layer"]],
        "wrong_14": [HINTS["discriminator_sums_over_the_batch"], HINTS["step_discriminator_loss_arguments_swapped"]],
    },
)
graded = graded_course_fixture(SPEC)
