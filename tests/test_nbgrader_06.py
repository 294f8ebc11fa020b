"""The real nbgrader workflow on notebook 06 (pix2pix): generate, autograde right and wrong submissions, feedback."""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

# Typical mistakes: the answer that replaces one solution cell, and the test cell that must lose its points. Most
# of them are the reference answer with one part replaced, so they are built from these templates.
UNET = '''
class UNetGenerator(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, features=32):
        super().__init__()
        f = {f}
        self.e1 = nn.Conv2d({in_channels}, f, {e1_kernel}, 2, {e1_padding})
        self.e2 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f))
        self.e3 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False),
                                nn.BatchNorm2d(4 * f))
        self.e4 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(4 * f, 4 * f, 4, 2, 1))
        self.d4 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(4 * f, 4 * f, 4, 2, 1, bias=False),
                                nn.BatchNorm2d(4 * f))
        self.d3 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d({d3_in}, 2 * f, 4, 2, 1, bias=False),
                                nn.BatchNorm2d(2 * f))
        self.d2 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d({d2_in}, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f))
        self.d1 = nn.Sequential(nn.ReLU(),
                                nn.ConvTranspose2d({d1_in}, {out_channels}, {last_kernel}, 2, {last_padding}), {last})

    def forward(self, x):
        height, width = x.shape[-2:]
        if {size_check}:
            raise ValueError(f"height and width must be multiples of 16, got {{height}}x{{width}}")
        e1 = self.e1(x)
        e2 = self.e2(e1)
        e3 = self.e3(e2)
        e4 = self.e4(e3)
        d = self.d4(e4)
        d = self.d3({skip3})
        d = self.d2({skip2})
        return self.d1({skip1})
'''
PATCH = '''
class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels=2, features=32):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d({in_channels}, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * f, 4 * f, 4, 1, 1, bias=False), nn.BatchNorm2d(4 * f), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * f, 1, 4, 1, 1), {last}
        )

    def forward(self, pairs):
        return {logits}
'''
D_LOSS = '''
def pix2pix_discriminator_loss(real_logits, fake_logits):
    real = {real}
    fake = {fake}
    return {total}
'''
G_LOSS = '''
def pix2pix_generator_loss(fake_logits, fake, target, lambda_l1={default}):
    adversarial = {adversarial}
    return {total}
'''
STEP = '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    fakes = G(inputs)

    opt_D.zero_grad()
    real_logits = D({real_pair})
    fake_logits = D({fake_pair_for_d})
    d_loss = pix2pix_discriminator_loss(real_logits, fake_logits)
    d_loss.backward()
    opt_D.step()

    opt_G.zero_grad()
    g_loss = pix2pix_generator_loss(D({fake_pair_for_g}), {g_args})
    g_loss.backward()
    opt_G.step()
    return {{"d_loss": d_loss.item(), "g_loss": g_loss.item()}}
'''
SKIPS = {"skip3": "torch.cat([d, e3], dim=1)", "skip2": "torch.cat([d, e2], dim=1)",
         "skip1": "torch.cat([d, e1], dim=1)"}
BCE = "F.binary_cross_entropy_with_logits"


def unet(**parts: str) -> str:
    """A UNetGenerator answer, correct unless one of its parts is replaced."""
    defaults = dict(f="features", in_channels="in_channels", out_channels="out_channels", e1_kernel="4",
                    e1_padding="1", d3_in="8 * f", d2_in="4 * f", d1_in="2 * f", last_kernel="4", last_padding="1",
                    last="nn.Tanh()", size_check="height % 16 or width % 16", **SKIPS)
    return UNET.format(**{**defaults, **parts})


def patch(in_channels: str = "in_channels", last: str = "", logits: str = "self.net(pairs)") -> str:
    """A PatchDiscriminator answer, correct unless one of its parts is replaced."""
    return PATCH.format(in_channels=in_channels, last=last, logits=logits)


def d_loss(real: str = f"{BCE}(real_logits, torch.ones_like(real_logits))",
           fake: str = f"{BCE}(fake_logits, torch.zeros_like(fake_logits))", total: str = "0.5 * (real + fake)") -> str:
    """A pix2pix_discriminator_loss answer, correct unless one of its parts is replaced."""
    return D_LOSS.format(real=real, fake=fake, total=total)


def g_loss(adversarial: str = f"{BCE}(fake_logits, torch.ones_like(fake_logits))",
           total: str = "adversarial + lambda_l1 * (fake - target).abs().mean()", default: str = "100.0") -> str:
    """A pix2pix_generator_loss answer, correct unless one of its parts is replaced."""
    return G_LOSS.format(adversarial=adversarial, total=total, default=default)


def step(real_pair: str = "torch.cat([inputs, targets], dim=1)",
         fake_pair_for_d: str = "torch.cat([inputs, fakes.detach()], dim=1)",
         fake_pair_for_g: str = "torch.cat([inputs, fakes], dim=1)", g_args: str = "fakes, targets, lambda_l1") -> str:
    """A pix2pix_train_step answer, correct unless one of its parts is replaced."""
    return STEP.format(real_pair=real_pair, fake_pair_for_d=fake_pair_for_d, fake_pair_for_g=fake_pair_for_g,
                       g_args=g_args)


def mistake(cell: str, code: str) -> Mistake:
    """A wrong answer to `cell` that must cost the points of its own test cell, and only those."""
    return Mistake(cell, code, (f"test_{cell}",))


MISTAKES = {
    # exercise 1: UNetGenerator
    "unet_no_skip_connections": mistake("unet_generator", unet(d3_in="4 * f", d2_in="2 * f", d1_in="f", skip3="d",
                                                               skip2="d", skip1="d")),
    "unet_last_layer_padding_0": mistake("unet_generator", unet(last_padding="0")),  # 34x34
    "unet_last_layer_kernel_3": mistake("unet_generator", unet(last_kernel="3")),  # 31x31
    "unet_first_layer_kernel_3_padding_0": mistake("unet_generator", unet(e1_kernel="3", e1_padding="0")),  # 15x15
    "unet_sigmoid": mistake("unet_generator", unet(last="nn.Sigmoid()")),
    "unet_no_output_activation": mistake("unet_generator", unet(last="nn.Identity()")),
    "unet_no_size_check": mistake("unet_generator", unet(size_check="False")),
    "unet_checks_only_the_width": mistake("unet_generator", unet(size_check="width % 16")),
    "unet_hard_coded_out_channels": mistake("unet_generator", unet(out_channels="1")),
    "unet_hard_coded_channels": mistake("unet_generator", unet(in_channels="1", out_channels="1")),
    "unet_ignores_features": mistake("unet_generator", unet(f="32")),
    "unet_skip_from_the_wrong_resolution": mistake("unet_generator", unet(skip2="torch.cat([d, e1], dim=1)")),
    "unet_skips_along_the_batch_axis": mistake("unet_generator", unet(
        skip3="torch.cat([d, e3], dim=0)", skip2="torch.cat([d, e2], dim=0)", skip1="torch.cat([d, e1], dim=0)")),
    # exercise 2: PatchDiscriminator
    "patch_sees_only_the_output": mistake("patch_discriminator", patch(in_channels="1",
                                                                       logits="self.net(pairs[:, 1:])")),
    "patch_linear_head": mistake("patch_discriminator", '''
class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels=2, features=32):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * f * 8 * 8, 1),
        )

    def forward(self, pairs):
        return self.net(pairs)
'''),
    "patch_linear_layer_reshaped_to_a_map": mistake("patch_discriminator", '''
class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels=2, features=32):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, f, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * f * 8 * 8, 36),
        )

    def forward(self, pairs):
        return self.net(pairs).view(-1, 1, 6, 6)
'''),
    "patch_global_average": mistake("patch_discriminator", patch(logits="self.net(pairs).mean(dim=(2, 3), "
                                                                        "keepdim=True)")),
    "patch_sigmoid": mistake("patch_discriminator", patch(last="nn.Sigmoid(),")),
    "patch_instance_norm": mistake("patch_discriminator", '''
class PatchDiscriminator(nn.Module):
    """Instance norm without running statistics: every logit depends a little on the whole image."""

    def __init__(self, in_channels=2, features=32):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, f, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 4, 2, 1), nn.InstanceNorm2d(2 * f), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 4 * f, 4, 1, 1), nn.InstanceNorm2d(4 * f), nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * f, 1, 4, 1, 1),
        )

    def forward(self, pairs):
        return self.net(pairs)
'''),
    "patch_hard_coded_two_channels": mistake("patch_discriminator", patch(in_channels="2")),
    "patch_flattened": mistake("patch_discriminator", patch(logits="self.net(pairs).flatten(1)")),
    "patch_global_mean_added": mistake("patch_discriminator", patch(
        logits="self.net(pairs) + self.net(pairs).mean(dim=(2, 3), keepdim=True)")),
    # exercise 3: pix2pix_discriminator_loss
    "d_loss_not_halved": mistake("discriminator_loss", d_loss(total="real + fake")),
    "d_loss_sigmoid_before_bce": mistake("discriminator_loss", d_loss(
        real=f"{BCE}(torch.sigmoid(real_logits), torch.ones_like(real_logits))",
        fake=f"{BCE}(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits))")),
    "d_loss_patches_averaged_first": mistake("discriminator_loss", d_loss(
        real=f"{BCE}(real_logits.mean(), torch.tensor(1.0, device=real_logits.device))",
        fake=f"{BCE}(fake_logits.mean(), torch.tensor(0.0, device=fake_logits.device))")),
    "d_loss_labels_swapped": mistake("discriminator_loss", d_loss(
        real=f"{BCE}(real_logits, torch.zeros_like(real_logits))",
        fake=f"{BCE}(fake_logits, torch.ones_like(fake_logits))")),
    "d_loss_summed": mistake("discriminator_loss", d_loss(
        real=f"{BCE}(real_logits, torch.ones_like(real_logits), reduction='sum')",
        fake=f"{BCE}(fake_logits, torch.zeros_like(fake_logits), reduction='sum')")),
    "d_loss_bce_on_sigmoid": mistake("discriminator_loss", d_loss(
        real="F.binary_cross_entropy(torch.sigmoid(real_logits), torch.ones_like(real_logits))",
        fake="F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits))")),
    "d_loss_log_of_sigmoid": mistake("discriminator_loss", d_loss(
        real="-torch.log(torch.sigmoid(real_logits)).mean()",
        fake="-torch.log(1 - torch.sigmoid(fake_logits)).mean()")),
    # exercise 4: pix2pix_generator_loss
    "g_loss_lambda_on_the_gan_term": mistake("generator_loss", g_loss(
        total="lambda_l1 * adversarial + (fake - target).abs().mean()")),
    "g_loss_squared_error": mistake("generator_loss", g_loss(
        total="adversarial + lambda_l1 * (fake - target).square().mean()")),
    "g_loss_l1_summed": mistake("generator_loss", g_loss(
        total="adversarial + lambda_l1 * (fake - target).abs().sum()")),
    "g_loss_sigmoid_before_bce": mistake("generator_loss", g_loss(
        adversarial=f"{BCE}(torch.sigmoid(fake_logits), torch.ones_like(fake_logits))")),
    "g_loss_patches_averaged_first": mistake("generator_loss", g_loss(
        adversarial=f"{BCE}(fake_logits.mean(), torch.tensor(1.0, device=fake_logits.device))")),
    "g_loss_saturating": mistake("generator_loss", g_loss(
        adversarial=f"-{BCE}(fake_logits, torch.zeros_like(fake_logits))")),
    "g_loss_default_lambda_10": mistake("generator_loss", g_loss(default="10.0")),
    "g_loss_bce_on_sigmoid": mistake("generator_loss", g_loss(
        adversarial="F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.ones_like(fake_logits))")),
    # exercise 5: pix2pix_train_step
    "step_d_sees_only_the_output": mistake("train_step", step(real_pair="targets", fake_pair_for_d="fakes.detach()",
                                                              fake_pair_for_g="fakes")),
    "step_l1_against_the_inputs": mistake("train_step", step(g_args="fakes, inputs, lambda_l1")),
    "step_pairs_in_the_wrong_order": mistake("train_step", step(
        real_pair="torch.cat([targets, inputs], dim=1)", fake_pair_for_d="torch.cat([fakes.detach(), inputs], dim=1)",
        fake_pair_for_g="torch.cat([fakes, inputs], dim=1)")),
    "step_no_detach": mistake("train_step", step(fake_pair_for_d="torch.cat([inputs, fakes], dim=1)")),
    "step_no_detach_retain_graph": mistake("train_step", '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    opt_D.zero_grad()
    opt_G.zero_grad()
    fakes = G(inputs)
    d_loss = pix2pix_discriminator_loss(D(torch.cat([inputs, targets], 1)), D(torch.cat([inputs, fakes], 1)))
    d_loss.backward(retain_graph=True)  # "Trying to backward through the graph a second time" without it
    opt_D.step()
    g_loss = pix2pix_generator_loss(D(torch.cat([inputs, fakes], 1)), fakes, targets, lambda_l1)
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
'''),
    "step_fakes_detached_for_d_in_the_g_update": mistake("train_step", step(
        fake_pair_for_g="torch.cat([inputs, fakes.detach()], dim=1)")),
    "step_lambda_not_passed_on": mistake("train_step", step(g_args="fakes, targets")),
    "step_no_zero_grad": mistake("train_step", step().replace("    opt_D.zero_grad()\n", "")
                                 .replace("    opt_G.zero_grad()\n", "")),
    "step_d_stepped_in_the_g_update": mistake("train_step", step().replace(
        "    opt_G.step()\n", "    opt_G.step()\n    opt_D.step()\n")),
    "step_fake_logits_reused_after_the_d_update": mistake("train_step", '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    fakes = G(inputs)
    fake_logits = D(torch.cat([inputs, fakes], dim=1))

    opt_D.zero_grad()
    d_loss = pix2pix_discriminator_loss(D(torch.cat([inputs, targets], dim=1)), fake_logits.detach())
    d_loss.backward()
    opt_D.step()

    opt_G.zero_grad()
    g_loss = pix2pix_generator_loss(fake_logits, fakes, targets, lambda_l1)
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
'''),
}

HINTS = {
    "unet_no_skip_connections": "Without skips, everything passes through the 2x2 bottleneck",
    "unet_last_layer_padding_0": "the output is 34x34, not 32x32. A transposed convolution gives",
    "unet_last_layer_kernel_3": "the output is 31x31, not 32x32. A transposed convolution gives",
    "unet_first_layer_kernel_3_padding_0": "a skip connection joins two tensors of different sizes",
    "unet_sigmoid": "a sigmoid ends in [0, 1], but the digits lie in [-1, 1]",
    "unet_no_output_activation": "end with a tanh",
    "unet_no_size_check": "raise a ValueError that says height and width must be multiples of 16",
    "unet_checks_only_the_width": "only its height is wrong: check both sizes",
    "unet_hard_coded_out_channels": "use in_channels and out_channels",
    "unet_hard_coded_channels": "use in_channels and out_channels",
    "unet_ignores_features": "use `features` for the widths",
    "unet_skip_from_the_wrong_resolution": "concatenate each decoder output with the encoder output of the same "
                                           "resolution",
    "unet_skips_along_the_batch_axis": "along dim=1 (the channels)",
    "patch_sees_only_the_output": "D ignores the input",
    "patch_linear_head": "do not flatten it, average it or end with a Linear layer",
    "patch_linear_layer_reshaped_to_a_map": "a PatchGAN is fully convolutional, with no Linear layer",
    "patch_global_average": "one verdict for the whole image is not a PatchGAN",
    "patch_sigmoid": "return logits (raw scores), not probabilities",
    "patch_instance_norm": "nn.InstanceNorm2d without running statistics mixes",
    "patch_hard_coded_two_channels": "its first convolution must take in_channels channels",
    "patch_flattened": "keep the map of patch logits; do not flatten it",
    "patch_global_mean_added": "each logit of a PatchGAN must see one patch, not the whole image",
    "d_loss_not_halved": "halve the sum of the real and the fake loss",
    "d_loss_sigmoid_before_bce": "a sigmoid was applied before BCE with logits",
    "d_loss_patches_averaged_first": "as if they were averaged to 0 before the loss",
    "d_loss_labels_swapped": "the targets are swapped",
    "d_loss_summed": "the patch losses were summed; average them",
    "d_loss_bce_on_sigmoid": "the sigmoid of 200 rounds to exactly 1 and its log breaks",
    "d_loss_log_of_sigmoid": "the sigmoid of 200 rounds to exactly 1 and its log breaks",
    "g_loss_lambda_on_the_gan_term": "lambda_l1 multiplies the L1 term, not the adversarial one",
    "g_loss_squared_error": "that is the squared error",
    "g_loss_l1_summed": "the L1 term is summed over pixels; average it",
    "g_loss_sigmoid_before_bce": "a sigmoid was applied before BCE with logits",
    "g_loss_patches_averaged_first": "as if they were averaged to 0 before the loss",
    "g_loss_saturating": "that is the saturating loss log(1 - D)",
    "g_loss_default_lambda_10": "the default lambda_l1 is 100",
    "g_loss_bce_on_sigmoid": "the sigmoid rounds to exactly 0 and its log breaks",
    "step_d_sees_only_the_output": "D cannot tell whether the output fits its input",
    "step_l1_against_the_inputs": "the L1 term compares the fakes with the inputs",
    "step_pairs_in_the_wrong_order": "D was given (output, input) pairs",
    "step_no_detach": "detach the fakes in the D update",
    "step_no_detach_retain_graph": "the generator's gradients are not those of pix2pix_generator_loss",
    "step_fakes_detached_for_d_in_the_g_update": "the generator's gradients are not those of pix2pix_generator_loss",
    "step_lambda_not_passed_on": "pass it through",
    "step_no_zero_grad": "opt_D.step() used stale gradients",
    "step_d_stepped_in_the_g_update": "expected one opt_D.step() and then one opt_G.step()",
    "step_fake_logits_reused_after_the_d_update": "after the D update, judge the fakes again",
}

# Wrong submissions, at most one mistake per cell. The training step's test runs the step with stand-ins for both
# losses (and tiny networks of its own), so step mistakes come with loss mistakes: their scores show that a wrong
# loss costs the points of its own exercise only.
WRONG_SUBMISSIONS = {
    "wrong_1": ["unet_no_skip_connections", "patch_sees_only_the_output", "d_loss_not_halved",
                "g_loss_lambda_on_the_gan_term", "step_d_sees_only_the_output"],
    "wrong_2": ["unet_last_layer_padding_0", "patch_linear_head", "d_loss_sigmoid_before_bce", "g_loss_squared_error",
                "step_l1_against_the_inputs"],
    "wrong_3": ["unet_last_layer_kernel_3", "patch_global_average", "d_loss_patches_averaged_first",
                "g_loss_l1_summed", "step_pairs_in_the_wrong_order"],
    "wrong_4": ["unet_sigmoid", "patch_sigmoid", "d_loss_labels_swapped", "g_loss_sigmoid_before_bce",
                "step_no_detach"],
    "wrong_5": ["unet_no_output_activation", "patch_hard_coded_two_channels", "d_loss_summed",
                "g_loss_patches_averaged_first", "step_no_detach_retain_graph"],
    "wrong_6": ["unet_no_size_check", "patch_flattened", "d_loss_bce_on_sigmoid", "g_loss_saturating",
                "step_fakes_detached_for_d_in_the_g_update"],
    "wrong_7": ["unet_checks_only_the_width", "patch_linear_layer_reshaped_to_a_map", "d_loss_log_of_sigmoid",
                "g_loss_default_lambda_10", "step_lambda_not_passed_on"],
    "wrong_8": ["unet_hard_coded_out_channels", "patch_global_mean_added", "g_loss_bce_on_sigmoid",
                "step_no_zero_grad"],
    "wrong_9": ["unet_hard_coded_channels", "patch_instance_norm", "step_d_stepped_in_the_g_update"],
    "wrong_10": ["unet_ignores_features", "step_fake_logits_reused_after_the_d_update"],
    "wrong_11": ["unet_first_layer_kernel_3_padding_0"],
    "wrong_12": ["unet_skip_from_the_wrong_resolution"],
    "wrong_13": ["unet_skips_along_the_batch_axis"],
}

# Other correct ways to write the exercises: they must get full marks too. ALTERNATIVES go through nbgrader as one
# submission; MORE_ALTERNATIVES are checked in-process (test_notebook_06.py), cell by cell.
ALTERNATIVES = {
    "unet_generator": '''
class UnetSkipConnectionBlock(nn.Module):
    """The official code's recursive block: down, the submodule, up, and the block's input concatenated on top."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 use_dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        downrelu, downnorm = nn.LeakyReLU(0.2, True), nn.BatchNorm2d(inner_nc)
        uprelu, upnorm = nn.ReLU(True), nn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=False)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=False)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """The official UnetGenerator built from the innermost block outwards, with 4 downsamplings instead of 8."""

    def __init__(self, in_channels=1, out_channels=1, features=32):
        super().__init__()
        ngf = features
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 4, innermost=True)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(out_channels, ngf, input_nc=in_channels, submodule=block,
                                             outermost=True)

    def forward(self, input):
        if input.shape[-1] % 16 != 0 or input.shape[-2] % 16 != 0:
            raise ValueError(f"the image size must be a multiple of 2**4 = 16, got {tuple(input.shape[-2:])}")
        return self.model(input)
''',
    "patch_discriminator": '''
class PatchDiscriminator(nn.Module):
    """The official NLayerDiscriminator (kernel 4, padding 1, batch norm) with n_layers=2."""

    def __init__(self, in_channels=2, features=32, n_layers=2):
        super().__init__()
        kw, padw, ndf = 4, 1, features
        sequence = [nn.Conv2d(in_channels, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw,
                                   bias=False), nn.BatchNorm2d(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        nf_mult_prev, nf_mult = nf_mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=False),
                     nn.BatchNorm2d(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)
''',
    "discriminator_loss": '''
def pix2pix_discriminator_loss(real_logits, fake_logits):
    """-log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x), both stable."""
    return (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()) / 2
''',
    "generator_loss": '''
def pix2pix_generator_loss(fake_logits, fake, target, lambda_l1=100.0):
    """As the official code: criterionGAN(pred_fake, True) + criterionL1(fake_B, real_B) * lambda_L1."""
    loss_G_GAN = nn.BCEWithLogitsLoss()(fake_logits, torch.ones_like(fake_logits))
    loss_G_L1 = nn.L1Loss()(fake, target) * lambda_l1
    return loss_G_GAN + loss_G_L1
''',
    "train_step": '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    """The official order: fake_B = G(real_A); D on the detached fake pair; G through the updated D."""
    fake_B = G(inputs)
    fake_AB = torch.cat((inputs, fake_B), 1)
    opt_D.zero_grad(set_to_none=True)
    pred_fake = D(fake_AB.detach())
    pred_real = D(torch.cat((inputs, targets), 1))
    loss_D = pix2pix_discriminator_loss(real_logits=pred_real, fake_logits=pred_fake)
    loss_D.backward()
    opt_D.step()
    opt_G.zero_grad(set_to_none=True)
    loss_G = pix2pix_generator_loss(fake_logits=D(fake_AB), fake=fake_B, target=targets, lambda_l1=lambda_l1)
    loss_G.backward()
    opt_G.step()
    return dict(d_loss=float(loss_D), g_loss=float(loss_G))
''',
}

MORE_ALTERNATIVES = {
    "unet_generator": ['''
class UNetGenerator(nn.Module):
    """Post-activation blocks (convolution, batch norm, then the activation): the skips carry activated maps."""

    def __init__(self, in_channels=1, out_channels=1, features=32):
        super().__init__()
        f = features

        def down(i, o, norm=True):
            return nn.Sequential(nn.Conv2d(i, o, 4, 2, 1), *([nn.BatchNorm2d(o)] if norm else []), nn.LeakyReLU(0.2))

        def up(i, o):
            return nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), nn.BatchNorm2d(o), nn.ReLU())

        self.downs = nn.ModuleList([down(in_channels, f, norm=False), down(f, 2 * f), down(2 * f, 4 * f),
                                    down(4 * f, 4 * f, norm=False)])
        self.ups = nn.ModuleList([up(4 * f, 4 * f), up(8 * f, 2 * f), up(4 * f, f)])
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * f, out_channels, 4, 2, 1), nn.Tanh())

    def forward(self, x):
        if x.shape[2] % 16 or x.shape[3] % 16:
            raise ValueError("height and width must be multiples of 16")
        skips = []
        for layer in self.downs:
            x = layer(x)
            skips.append(x)
        x = skips.pop()
        for layer in self.ups:
            x = torch.cat([layer(x), skips.pop()], dim=1)
        return self.out(x)
''', '''
class UNetGenerator(nn.Module):
    """Skips added rather than concatenated (the encoder and decoder widths match at each resolution)."""

    def __init__(self, in_channels=1, out_channels=1, features=32):
        super().__init__()
        f = features
        self.e1 = nn.Conv2d(in_channels, f, 4, 2, 1)
        self.e2 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(f, 2 * f, 4, 2, 1), nn.BatchNorm2d(2 * f))
        self.e3 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(2 * f, 4 * f, 4, 2, 1), nn.BatchNorm2d(4 * f))
        self.e4 = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(4 * f, 4 * f, 4, 2, 1))
        self.d4 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(4 * f, 4 * f, 4, 2, 1), nn.BatchNorm2d(4 * f))
        self.d3 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(4 * f, 2 * f, 4, 2, 1), nn.BatchNorm2d(2 * f))
        self.d2 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * f, f, 4, 2, 1), nn.BatchNorm2d(f))
        self.d1 = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(f, out_channels, 4, 2, 1), nn.Tanh())

    def forward(self, x):
        if any(size % 16 for size in x.shape[-2:]):
            raise ValueError(f"expected height and width divisible by 16, got {tuple(x.shape[-2:])}")
        e1 = self.e1(x)
        e2 = self.e2(e1)
        e3 = self.e3(e2)
        d = self.d4(self.e4(e3)) + e3
        d = self.d3(d) + e2
        d = self.d2(d) + e1
        return self.d1(d)
''', '''
class UNetGenerator(nn.Module):
    """Dropout in the inner decoder layers, as the official U-Net (inactive in eval mode here)."""

    def __init__(self, in_channels=1, out_channels=1, features=32):
        super().__init__()
        f = features
        self.enc = nn.ModuleList([
            nn.Conv2d(in_channels, f, 4, 2, 1),
            nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f)),
            nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * f)),
            nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(4 * f, 4 * f, 4, 2, 1)),
        ])
        self.dec = nn.ModuleList([
            nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(4 * f, 4 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * f),
                          nn.Dropout(0.5)),
            nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(8 * f, 2 * f, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * f),
                          nn.Dropout(0.5)),
            nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(4 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f)),
            nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * f, out_channels, 4, 2, 1), nn.Tanh()),
        ])

    def forward(self, x):
        if x.shape[-2] % 16 != 0 or x.shape[-1] % 16 != 0:
            raise ValueError("UNetGenerator needs multiples of 16")
        skips = []
        for layer in self.enc:
            x = layer(x)
            skips.append(x)
        skips.pop()
        for layer in self.dec[:-1]:
            x = torch.cat([layer(x), skips.pop()], 1)
        return self.dec[-1](x)
'''],
    "patch_discriminator": [ALTERNATIVES["patch_discriminator"].replace("n_layers=2", "n_layers=1"), '''
class PatchDiscriminator(nn.Module):
    """Spectral normalisation instead of batch norm (Miyato et al.), the same layers as the table."""

    def __init__(self, in_channels=2, features=32):
        super().__init__()
        sn, f = nn.utils.spectral_norm, features
        self.net = nn.Sequential(
            sn(nn.Conv2d(in_channels, f, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(f, 2 * f, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * f, 4 * f, 4, 1, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(4 * f, 1, 4, 1, 1)),
        )

    def forward(self, pairs):
        return self.net(pairs)
''', '''
class PatchDiscriminator(nn.Module):
    """Instance norm (the official code's --norm instance), here with running statistics for eval mode."""

    def __init__(self, in_channels=2, features=32):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, f, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 4, 2, 1), nn.InstanceNorm2d(2 * f, affine=True, track_running_stats=True),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 4 * f, 4, 1, 1), nn.InstanceNorm2d(4 * f, affine=True, track_running_stats=True),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * f, 1, 4, 1, 1),
        )

    def forward(self, pairs):
        return self.net(pairs)
'''],
    "discriminator_loss": ['''
def pix2pix_discriminator_loss(real_logits, fake_logits):
    """log sigmoid(-x) = log(1 - sigmoid(x)), computed stably."""
    return -0.5 * (F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())
''', '''
def pix2pix_discriminator_loss(real_logits, fake_logits):
    """nn.BCEWithLogitsLoss, as the official GANLoss('vanilla'), halved as in backward_D."""
    criterion = nn.BCEWithLogitsLoss()
    loss_D_real = criterion(real_logits, torch.ones_like(real_logits))
    loss_D_fake = criterion(fake_logits, torch.zeros_like(fake_logits))
    return (loss_D_real + loss_D_fake) * 0.5
''', '''
def pix2pix_discriminator_loss(real_logits, fake_logits):
    """The labels as full tensors, and the mean of the two losses."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1.0), reduction="mean")
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, 0.0), reduction="mean")
    return torch.stack([real, fake]).mean()
'''],
    "generator_loss": ['''
def pix2pix_generator_loss(fake_logits, fake, target, lambda_l1=100.0):
    """softplus(-x) = -log sigmoid(x), and F.l1_loss."""
    return F.softplus(-fake_logits).mean() + lambda_l1 * F.l1_loss(fake, target)
''', '''
def pix2pix_generator_loss(fake_logits, fake, target, lambda_l1=100.0):
    """log-sigmoid, and the mean absolute error written with torch.mean."""
    return -F.logsigmoid(fake_logits).mean() + lambda_l1 * torch.mean(torch.abs(target - fake))
''', '''
def pix2pix_generator_loss(fake_logits, fake, target, lambda_l1=100.0):
    """BCE with logits against a tensor of ones, the L1 loss weighted."""
    gan = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    l1 = F.l1_loss(fake, target, reduction="mean")
    return gan + l1 * lambda_l1
'''],
    "train_step": [step(), '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    """One D call on the real and the fake pairs stacked along the batch, split afterwards."""
    n = len(inputs)
    fakes = G(inputs)
    logits = D(torch.cat([torch.cat([inputs, targets], 1), torch.cat([inputs, fakes.detach()], 1)]))
    d_loss = pix2pix_discriminator_loss(logits[:n], logits[n:])
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    g_loss = pix2pix_generator_loss(D(torch.cat([inputs, fakes], 1)), fakes, targets, lambda_l1)
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    """The D update on fakes made without a graph; a fresh G forward for the G update."""
    with torch.no_grad():
        fakes = G(inputs)
    d_loss = pix2pix_discriminator_loss(D(torch.cat([inputs, targets], 1)), D(torch.cat([inputs, fakes], 1)))
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    fakes = G(inputs)
    g_loss = pix2pix_generator_loss(D(torch.cat([inputs, fakes], 1)), fakes, targets, lambda_l1=lambda_l1)
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', '''
def pix2pix_train_step(G, D, opt_G, opt_D, inputs, targets, lambda_l1=100.0):
    """D's gradients zeroed by hand (set to None); the fake logits for D computed once from a detached pair."""
    real_pair = torch.cat((inputs, targets), dim=1)
    fake = G(inputs)
    for p in D.parameters():
        p.grad = None
    d_loss = pix2pix_discriminator_loss(D(real_pair), D(torch.cat((inputs, fake), dim=1).detach()))
    d_loss.backward()
    opt_D.step()
    for p in G.parameters():
        p.grad = None
    g_loss = pix2pix_generator_loss(D(torch.cat((inputs, fake), dim=1)), fake, targets, lambda_l1)
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.detach().item(), "g_loss": g_loss.detach().item()}
'''],
}

SPEC = FlowSpec(
    assignment="06_pix2pix",
    notebook="pix2pix",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    feedback_phrases={
        "wrong_1": [HINTS["unet_no_skip_connections"], HINTS["patch_sees_only_the_output"],
                    HINTS["d_loss_not_halved"], HINTS["step_d_sees_only_the_output"]],
        "wrong_2": [HINTS["unet_last_layer_padding_0"], HINTS["g_loss_squared_error"],
                    HINTS["step_l1_against_the_inputs"]],
        "wrong_4": [HINTS["unet_sigmoid"], HINTS["patch_sigmoid"], HINTS["d_loss_labels_swapped"],
                    HINTS["step_no_detach"]],
        "wrong_6": [HINTS["unet_no_size_check"], HINTS["d_loss_bce_on_sigmoid"]],
        "wrong_7": [HINTS["unet_checks_only_the_width"], HINTS["g_loss_default_lambda_10"],
                    HINTS["step_lambda_not_passed_on"]],
        "wrong_8": [HINTS["g_loss_bce_on_sigmoid"], HINTS["step_no_zero_grad"]],
    },
)
graded = graded_course_fixture(SPEC)
