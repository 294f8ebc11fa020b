"""The real nbgrader workflow on notebook 03 (the GAN losses): generate, autograde right and wrong submissions, feedback."""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

# Typical mistakes: the answer that replaces one solution cell, and the test cells that must lose their points.
MISTAKES = {
    # exercise 1: minimax_generator_loss
    "minimax_is_non_saturating": Mistake("minimax_generator_loss", '''
def minimax_generator_loss(fake_logits):
    return F.softplus(-fake_logits).mean()
''', ("test_minimax_generator_loss",)),
    "minimax_wrong_sign": Mistake("minimax_generator_loss", '''
def minimax_generator_loss(fake_logits):
    return F.softplus(fake_logits).mean()
''', ("test_minimax_generator_loss",)),
    "minimax_log_of_sigmoid": Mistake("minimax_generator_loss", '''
def minimax_generator_loss(fake_logits):
    return torch.log(1 - torch.sigmoid(fake_logits)).mean()
''', ("test_minimax_generator_loss",)),
    "minimax_sum": Mistake("minimax_generator_loss", '''
def minimax_generator_loss(fake_logits):
    return -F.softplus(fake_logits).sum()
''', ("test_minimax_generator_loss",)),
    "minimax_log_of_sigmoid_of_minus": Mistake("minimax_generator_loss", '''
def minimax_generator_loss(fake_logits):
    return torch.log(torch.sigmoid(-fake_logits)).mean()
''', ("test_minimax_generator_loss",)),
    "minimax_log1p_exp": Mistake("minimax_generator_loss", '''
def minimax_generator_loss(fake_logits):
    return -torch.log1p(torch.exp(fake_logits)).mean()
''', ("test_minimax_generator_loss",)),
    # exercise 2: lsgan_discriminator_loss
    "lsgan_d_swapped_targets": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return 0.5 * (real_out - a).pow(2).mean() + 0.5 * (fake_out - b).pow(2).mean()
''', ("test_lsgan_discriminator_loss",)),
    "lsgan_d_no_half": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return (real_out - b).pow(2).mean() + (fake_out - a).pow(2).mean()
''', ("test_lsgan_discriminator_loss",)),
    "lsgan_d_sigmoid": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    real, fake = torch.sigmoid(real_out), torch.sigmoid(fake_out)
    return 0.5 * (real - b).pow(2).mean() + 0.5 * (fake - a).pow(2).mean()
''', ("test_lsgan_discriminator_loss",)),
    "lsgan_d_sum": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return 0.5 * (real_out - b).pow(2).sum() + 0.5 * (fake_out - a).pow(2).sum()
''', ("test_lsgan_discriminator_loss",)),
    "lsgan_d_ignores_a_b": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return 0.5 * (real_out - 1).pow(2).mean() + 0.5 * fake_out.pow(2).mean()
''', ("test_lsgan_discriminator_loss",)),
    "lsgan_d_one_mean": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return 0.5 * ((real_out - b) ** 2 + (fake_out - a) ** 2).mean()
''', ("test_lsgan_discriminator_loss",)),
    "lsgan_d_one_mean_of_both_batches": Mistake("lsgan_discriminator_loss", '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return torch.cat([(real_out - b) ** 2, (fake_out - a) ** 2]).mean()
''', ("test_lsgan_discriminator_loss",)),
    # exercise 3: lsgan_generator_loss
    "lsgan_g_target_a": Mistake("lsgan_generator_loss", '''
def lsgan_generator_loss(fake_out, c=1.0):
    return 0.5 * fake_out.pow(2).mean()
''', ("test_lsgan_generator_loss",)),
    "lsgan_g_sigmoid": Mistake("lsgan_generator_loss", '''
def lsgan_generator_loss(fake_out, c=1.0):
    return 0.5 * (torch.sigmoid(fake_out) - c).pow(2).mean()
''', ("test_lsgan_generator_loss",)),
    "lsgan_g_sum": Mistake("lsgan_generator_loss", '''
def lsgan_generator_loss(fake_out, c=1.0):
    return 0.5 * (fake_out - c).pow(2).sum()
''', ("test_lsgan_generator_loss",)),
    # exercise 4: wgan_critic_loss
    "wgan_critic_wrong_sign": Mistake("wgan_critic_loss", '''
def wgan_critic_loss(real_out, fake_out):
    return real_out.mean() - fake_out.mean()
''', ("test_wgan_critic_loss",)),
    "wgan_critic_sum": Mistake("wgan_critic_loss", '''
def wgan_critic_loss(real_out, fake_out):
    return fake_out.sum() - real_out.sum()
''', ("test_wgan_critic_loss",)),
    "wgan_critic_sigmoid": Mistake("wgan_critic_loss", '''
def wgan_critic_loss(real_out, fake_out):
    return torch.sigmoid(fake_out).mean() - torch.sigmoid(real_out).mean()
''', ("test_wgan_critic_loss",)),
    "wgan_critic_mean_of_differences": Mistake("wgan_critic_loss", '''
def wgan_critic_loss(real_out, fake_out):
    return (fake_out - real_out).mean()
''', ("test_wgan_critic_loss",)),
    # exercise 5: wgan_generator_loss
    "wgan_generator_wrong_sign": Mistake("wgan_generator_loss", '''
def wgan_generator_loss(fake_out):
    return fake_out.mean()
''', ("test_wgan_generator_loss",)),
    "wgan_generator_sum": Mistake("wgan_generator_loss", '''
def wgan_generator_loss(fake_out):
    return -fake_out.sum()
''', ("test_wgan_generator_loss",)),
    "wgan_generator_sigmoid": Mistake("wgan_generator_loss", '''
def wgan_generator_loss(fake_out):
    return -torch.sigmoid(fake_out).mean()
''', ("test_wgan_generator_loss",)),
    # exercise 6: clip_weights
    "clip_only_weights": Mistake("clip_weights", '''
def clip_weights(critic, c=0.01):
    with torch.no_grad():
        for name, p in critic.named_parameters():
            if name.endswith("weight"):
                p.clamp_(-c, c)
''', ("test_clip_weights",)),
    "clip_builds_graph": Mistake("clip_weights", '''
def clip_weights(critic, c=0.01):
    for p in critic.parameters():
        p.data = p.clamp(-c, c)
''', ("test_clip_weights",)),
    "clip_state_dict": Mistake("clip_weights", '''
def clip_weights(critic, c=0.01):
    for value in critic.state_dict().values():
        if value.is_floating_point():
            value.clamp_(-c, c)
''', ("test_clip_weights",)),
    "clip_gradients": Mistake("clip_weights", '''
def clip_weights(critic, c=0.01):
    torch.nn.utils.clip_grad_value_(critic.parameters(), c)
''', ("test_clip_weights",)),
    # exercise 7: gradient_penalty
    "gp_eps_shared_by_the_batch": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(1, device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "gp_eps_per_pixel": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand_like(real)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "gp_norm_of_the_whole_batch": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm() - 1) ** 2
''', ("test_gradient_penalty",)),
    "gp_without_create_graph": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "gp_not_squared": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).mean()
''', ("test_gradient_penalty",)),
    "gp_one_sided": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return F.relu(grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "gp_eps_only_for_images": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), 1, 1, 1, device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "gp_square_of_mean_norm": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1).mean() - 1) ** 2
''', ("test_gradient_penalty",)),
    # exercise 8: critic_train_step
    "critic_n_critic_ignored": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(5):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = wgan_critic_loss(critic(real), critic(fake))
        gp = gradient_penalty(critic, real, fake)
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_zero_grad_once": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    opt_C.zero_grad()
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = wgan_critic_loss(critic(real), critic(fake))
        gp = gradient_penalty(critic, real, fake)
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_same_batch_every_update": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    real = next(real_batches)
    for _ in range(n_critic):
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = wgan_critic_loss(critic(real), critic(fake))
        gp = gradient_penalty(critic, real, fake)
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_gp_weight_ignored": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = wgan_critic_loss(critic(real), critic(fake))
        gp = gradient_penalty(critic, real, fake)
        opt_C.zero_grad()
        (c_loss + 10.0 * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_loss_leaks_into_g": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device))
        c_loss = wgan_critic_loss(critic(real), critic(fake))
        gp = gradient_penalty(critic, real, fake.detach())
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_noise_on_default_device": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(torch.randn(len(real), latent_dim)).detach()
        c_loss = wgan_critic_loss(critic(real), critic(fake))
        gp = gradient_penalty(critic, real, fake)
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(torch.randn(len(real), latent_dim))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_inlined_wrong_sign": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = critic(real).mean() - critic(fake).mean()
        eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = -critic(G(sample_noise(len(real), latent_dim, device=real.device))).mean()
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_g_reuses_last_fakes": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        z = sample_noise(len(real), latent_dim, device=real.device)
        fake = G(z)
        c_loss = wgan_critic_loss(critic(real), critic(fake.detach()))
        gp = gradient_penalty(critic, real, fake.detach())
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(fake))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    # exercise 9: hinge_discriminator_loss
    "hinge_d_swapped_signs": Mistake("hinge_discriminator_loss", '''
def hinge_discriminator_loss(real_out, fake_out):
    return F.relu(1 + real_out).mean() + F.relu(1 - fake_out).mean()
''', ("test_hinge_discriminator_loss",)),
    "hinge_d_without_relu": Mistake("hinge_discriminator_loss", '''
def hinge_discriminator_loss(real_out, fake_out):
    return (1 - real_out).mean() + (1 + fake_out).mean()
''', ("test_hinge_discriminator_loss",)),
    "hinge_d_sum": Mistake("hinge_discriminator_loss", '''
def hinge_discriminator_loss(real_out, fake_out):
    return F.relu(1 - real_out).sum() + F.relu(1 + fake_out).sum()
''', ("test_hinge_discriminator_loss",)),
    "hinge_d_sigmoid": Mistake("hinge_discriminator_loss", '''
def hinge_discriminator_loss(real_out, fake_out):
    return F.relu(1 - torch.sigmoid(real_out)).mean() + F.relu(1 + torch.sigmoid(fake_out)).mean()
''', ("test_hinge_discriminator_loss",)),
    "hinge_d_one_mean": Mistake("hinge_discriminator_loss", '''
def hinge_discriminator_loss(real_out, fake_out):
    return (F.relu(1 - real_out) + F.relu(1 + fake_out)).mean()
''', ("test_hinge_discriminator_loss",)),
    # exercise 10: hinge_generator_loss
    "hinge_g_with_a_hinge": Mistake("hinge_generator_loss", '''
def hinge_generator_loss(fake_out):
    return F.relu(1 - fake_out).mean()
''', ("test_hinge_generator_loss",)),
    "hinge_g_wrong_sign": Mistake("hinge_generator_loss", '''
def hinge_generator_loss(fake_out):
    return fake_out.mean()
''', ("test_hinge_generator_loss",)),
    "hinge_g_sum": Mistake("hinge_generator_loss", '''
def hinge_generator_loss(fake_out):
    return -fake_out.sum()
''', ("test_hinge_generator_loss",)),
    # exercise 11: diff_augment
    "augment_same_for_the_batch": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    if translation > 0:
        s = int(H * translation + 0.5)
        dy, dx = torch.randint(-s, s + 1, (2,)).tolist()
        x = F.pad(x, [s, s, s, s])[:, :, s - dy:s - dy + H, s - dx:s - dx + W]
    if cutout > 0:
        size = int(H * cutout + 0.5)
        top, left = torch.randint(0, H - size + 1, (2,)).tolist()
        mask = torch.ones_like(x)
        mask[:, :, top:top + size, left:left + size] = 0
        x = x * mask
    return x
''', ("test_diff_augment",)),
    "augment_wraps_around": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    s, size = int(H * translation + 0.5), int(H * cutout + 0.5)
    out = []
    for image in x:
        if translation > 0:
            dy, dx = torch.randint(-s, s + 1, (2,)).tolist()
            image = torch.roll(image, shifts=(dy, dx), dims=(1, 2))
        if cutout > 0:
            top, left = torch.randint(0, H - size + 1, (2,)).tolist()
            mask = torch.ones_like(image)
            mask[:, top:top + size, left:left + size] = 0
            image = image * mask
        out.append(image)
    return torch.stack(out)
''', ("test_diff_augment",)),
    "augment_not_differentiable": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    x = x.detach().clone()
    s, size = int(H * translation + 0.5), int(H * cutout + 0.5)
    for i in range(B):
        if translation > 0:
            dy, dx = torch.randint(-s, s + 1, (2,)).tolist()
            x[i] = F.pad(x[i], [s, s, s, s])[:, s - dy:s - dy + H, s - dx:s - dx + W]
        if cutout > 0:
            top, left = torch.randint(0, H - size + 1, (2,)).tolist()
            x[i, :, top:top + size, left:left + size] = 0
    return x
''', ("test_diff_augment",)),
    "augment_mask_on_default_device": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    rows, cols = torch.arange(H).view(1, H, 1), torch.arange(W).view(1, 1, W)
    if translation > 0:
        s = int(H * translation + 0.5)
        dy, dx = torch.randint(-s, s + 1, (B, 1, 1)), torch.randint(-s, s + 1, (B, 1, 1))
        padded = F.pad(x, [s, s, s, s])
        x = padded[torch.arange(B).view(B, 1, 1), :, rows + s - dy, cols + s - dx].permute(0, 3, 1, 2)
    if cutout > 0:
        size = int(H * cutout + 0.5)
        top, left = torch.randint(0, H - size + 1, (B, 1, 1)), torch.randint(0, W - size + 1, (B, 1, 1))
        hole = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
        x = x * (~hole).unsqueeze(1).float()
    return x
''', ("test_diff_augment",)),
    "augment_cutout_in_place": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, C, H, W = x.shape
    if cutout > 0:
        size = int(H * cutout + 0.5)
        with torch.no_grad():
            for i in range(B):
                top, left = torch.randint(0, H - size + 1, (2,)).tolist()
                x[i, :, top:top + size, left:left + size] = 0
    if translation > 0:
        s = int(H * translation + 0.5)
        rows = torch.arange(H, device=x.device).view(1, H, 1)
        cols = torch.arange(W, device=x.device).view(1, 1, W)
        dy = torch.randint(-s, s + 1, (B, 1, 1), device=x.device)
        dx = torch.randint(-s, s + 1, (B, 1, 1), device=x.device)
        padded = F.pad(x, [s, s, s, s])
        x = padded[torch.arange(B, device=x.device).view(B, 1, 1), :, rows + s - dy, cols + s - dx].permute(0, 3, 1, 2)
    return x
''', ("test_diff_augment",)),
    "augment_cutout_per_channel": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, C, H, W = x.shape
    rows = torch.arange(H, device=x.device).view(1, 1, H, 1)
    cols = torch.arange(W, device=x.device).view(1, 1, 1, W)
    if translation > 0:
        s = int(H * translation + 0.5)
        dy = torch.randint(-s, s + 1, (B, 1, 1), device=x.device)
        dx = torch.randint(-s, s + 1, (B, 1, 1), device=x.device)
        padded = F.pad(x, [s, s, s, s])
        batch = torch.arange(B, device=x.device).view(B, 1, 1)
        x = padded[batch, :, rows[0] + s - dy, cols[0] + s - dx].permute(0, 3, 1, 2)
    if cutout > 0:
        size = int(H * cutout + 0.5)
        top = torch.randint(0, H - size + 1, (B, C, 1, 1), device=x.device)
        left = torch.randint(0, W - size + 1, (B, C, 1, 1), device=x.device)
        hole = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
        x = x * (~hole).to(x.dtype)
    return x
''', ("test_diff_augment",)),
    "augment_shift_truncated": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    rows = torch.arange(H, device=x.device).view(1, H, 1)
    cols = torch.arange(W, device=x.device).view(1, 1, W)
    batch = torch.arange(B, device=x.device).view(B, 1, 1)
    if translation > 0:
        sh, sw = int(H * translation), int(W * translation)
        dy = torch.randint(-sh, sh + 1, (B, 1, 1), device=x.device)
        dx = torch.randint(-sw, sw + 1, (B, 1, 1), device=x.device)
        padded = F.pad(x, [sw, sw, sh, sh])
        x = padded[batch, :, rows + sh - dy, cols + sw - dx].permute(0, 3, 1, 2)
    if cutout > 0:
        ch, cw = int(H * cutout + 0.5), int(W * cutout + 0.5)
        top = torch.randint(0, H - ch + 1, (B, 1, 1), device=x.device)
        left = torch.randint(0, W - cw + 1, (B, 1, 1), device=x.device)
        hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        x = x * (~hole).unsqueeze(1).to(x.dtype)
    return x
''', ("test_diff_augment",)),
    "augment_cutout_filled_with_minus_one": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    rows = torch.arange(H, device=x.device).view(1, H, 1)
    cols = torch.arange(W, device=x.device).view(1, 1, W)
    batch = torch.arange(B, device=x.device).view(B, 1, 1)
    if translation > 0:
        sh, sw = int(H * translation + 0.5), int(W * translation + 0.5)
        dy = torch.randint(-sh, sh + 1, (B, 1, 1), device=x.device)
        dx = torch.randint(-sw, sw + 1, (B, 1, 1), device=x.device)
        padded = F.pad(x, [sw, sw, sh, sh])
        x = padded[batch, :, rows + sh - dy, cols + sw - dx].permute(0, 3, 1, 2)
    if cutout > 0:
        ch, cw = int(H * cutout + 0.5), int(W * cutout + 0.5)
        top = torch.randint(0, H - ch + 1, (B, 1, 1), device=x.device)
        left = torch.randint(0, W - cw + 1, (B, 1, 1), device=x.device)
        hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        x = torch.where(hole.unsqueeze(1), -torch.ones_like(x), x)
    return x
''', ("test_diff_augment",)),
    "augment_cutout_twice_too_large": Mistake("diff_augment", '''
def diff_augment(x, translation=0.125, cutout=0.5):
    B, _, H, W = x.shape
    rows = torch.arange(H, device=x.device).view(1, H, 1)
    cols = torch.arange(W, device=x.device).view(1, 1, W)
    batch = torch.arange(B, device=x.device).view(B, 1, 1)
    if translation > 0:
        sh, sw = int(H * translation + 0.5), int(W * translation + 0.5)
        dy = torch.randint(-sh, sh + 1, (B, 1, 1), device=x.device)
        dx = torch.randint(-sw, sw + 1, (B, 1, 1), device=x.device)
        padded = F.pad(x, [sw, sw, sh, sh])
        x = padded[batch, :, rows + sh - dy, cols + sw - dx].permute(0, 3, 1, 2)
    if cutout > 0:
        ch, cw = min(2 * int(H * cutout + 0.5), H), min(2 * int(W * cutout + 0.5), W)
        top = torch.randint(0, H - ch + 1, (B, 1, 1), device=x.device)
        left = torch.randint(0, W - cw + 1, (B, 1, 1), device=x.device)
        hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        x = x * (~hole).unsqueeze(1).to(x.dtype)
    return x
''', ("test_diff_augment",)),
}

# More typical mistakes, checked only in-process by test_notebook_03.py: each needs a submission of its own (one
# mistake per cell, and a critic_train_step mistake needs correct callees), and every submission adds about half a
# minute to the nbgrader flow.
IN_PROCESS_MISTAKES = {
    "gp_gradient_at_real": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    real = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real).sum(), real, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "gp_gradient_wrt_real": Mistake("gradient_penalty", '''
def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
    real = real.clone().requires_grad_(True)
    x_hat = eps * real + (1 - eps) * fake
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), real, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
''', ("test_gradient_penalty",)),
    "critic_inlined_no_penalty": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = critic(fake).mean() - critic(real).mean()
        eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        opt_C.zero_grad()
        (c_loss).backward()
        opt_C.step()
    g_loss = -critic(G(sample_noise(len(real), latent_dim, device=real.device))).mean()
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_inlined_g_wrong_sign": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(sample_noise(len(real), latent_dim, device=real.device)).detach()
        c_loss = critic(fake).mean() - critic(real).mean()
        eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = critic(G(sample_noise(len(real), latent_dim, device=real.device))).mean()
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_c_loss_with_penalty": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        z = sample_noise(len(real), latent_dim, device=real.device)
        fake = G(z)
        c_loss = wgan_critic_loss(critic(real), critic(fake.detach()))
        gp = gradient_penalty(critic, real, fake.detach())
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": (c_loss + gp_weight * gp).item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
    "critic_gp_weighted": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        z = sample_noise(len(real), latent_dim, device=real.device)
        fake = G(z)
        c_loss = wgan_critic_loss(critic(real), critic(fake.detach()))
        gp = gradient_penalty(critic, real, fake.detach())
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(len(real), latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": (gp_weight * gp).item()}
''', ("test_critic_train_step",)),
    "critic_noise_of_size_64": Mistake("critic_train_step", '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for _ in range(n_critic):
        real = next(real_batches)
        z = sample_noise(64, latent_dim, device=real.device)
        fake = G(z)
        c_loss = wgan_critic_loss(critic(real), critic(fake.detach()))
        gp = gradient_penalty(critic, real, fake.detach())
        opt_C.zero_grad()
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    g_loss = wgan_generator_loss(critic(G(sample_noise(64, latent_dim, device=real.device))))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return {"c_loss": c_loss.item(), "g_loss": g_loss.item(), "gp": gp.item()}
''', ("test_critic_train_step",)),
}

# Wrong submissions, at most one mistake per cell. critic_train_step calls gradient_penalty, wgan_critic_loss and
# wgan_generator_loss: a submission with a mistake in one of those keeps critic_train_step correct, and its full
# marks there show that the mistake costs points only in its own cell. Each critic_train_step mistake comes with
# correct versions of the functions it calls.
WRONG_SUBMISSIONS = {
    "wrong_1": ["gp_eps_shared_by_the_batch", "wgan_critic_wrong_sign", "wgan_generator_wrong_sign",
                "minimax_is_non_saturating", "lsgan_d_swapped_targets", "lsgan_g_target_a", "clip_only_weights",
                "hinge_d_swapped_signs", "hinge_g_with_a_hinge", "augment_same_for_the_batch"],
    "wrong_2": ["gp_eps_per_pixel", "wgan_critic_sum", "wgan_generator_sum", "minimax_wrong_sign",
                "lsgan_d_no_half", "lsgan_g_sigmoid", "clip_builds_graph", "hinge_d_without_relu",
                "hinge_g_wrong_sign", "augment_wraps_around"],
    "wrong_3": ["gp_norm_of_the_whole_batch", "wgan_critic_sigmoid", "wgan_generator_sigmoid",
                "minimax_log_of_sigmoid", "lsgan_d_sigmoid", "lsgan_g_sum", "clip_state_dict", "hinge_d_sum",
                "hinge_g_sum", "augment_not_differentiable"],
    "wrong_4": ["gp_without_create_graph", "minimax_sum", "lsgan_d_sum", "hinge_d_sigmoid",
                "augment_mask_on_default_device"],
    "wrong_5": ["gp_not_squared", "lsgan_d_ignores_a_b", "minimax_log_of_sigmoid_of_minus", "clip_gradients",
                "hinge_d_one_mean", "augment_cutout_in_place"],
    "wrong_6": ["gp_one_sided", "wgan_critic_mean_of_differences", "lsgan_d_one_mean", "augment_cutout_per_channel"],
    "wrong_7": ["gp_eps_only_for_images", "lsgan_d_one_mean_of_both_batches", "augment_shift_truncated"],
    "wrong_8": ["critic_n_critic_ignored", "augment_cutout_filled_with_minus_one"],
    "wrong_9": ["critic_zero_grad_once", "augment_cutout_twice_too_large"],
    "wrong_10": ["critic_same_batch_every_update", "minimax_log1p_exp"],
    "wrong_11": ["critic_gp_weight_ignored"],
    "wrong_12": ["critic_loss_leaks_into_g"],
    "wrong_13": ["critic_noise_on_default_device"],
    "wrong_14": ["gp_square_of_mean_norm"],
    "wrong_15": ["critic_inlined_wrong_sign"],
    "wrong_16": ["critic_g_reuses_last_fakes"],
}

# The message each mistake's failing test must show (checked in-process in test_notebook_03.py).
HINTS = {
    "minimax_is_non_saturating": "looks like the non-saturating loss",
    "minimax_wrong_sign": "wrong sign: return the mean of log(1 - sigmoid(a))",
    "minimax_log_of_sigmoid": "sigmoid(200) rounds to exactly 1",
    "minimax_log_of_sigmoid_of_minus": "sigmoid(-200) underflows to 0",
    "minimax_log1p_exp": "exp(200) overflows in log(1 + exp(a))",
    "minimax_sum": "use .mean(), not .sum()",
    "lsgan_d_swapped_targets": "looks like swapped targets",
    "lsgan_d_no_half": "keep the factors 1/2",
    "lsgan_d_sigmoid": "looks like a sigmoid applied to the discriminator's outputs",
    "lsgan_d_sum": "average with .mean(), not .sum()",
    "lsgan_d_ignores_a_b": "use the a and b arguments",
    "lsgan_d_one_mean": "the real and fake batches may differ in size: take each mean separately",
    "lsgan_d_one_mean_of_both_batches": "the real and fake batches may differ in size: take each mean separately",
    "lsgan_g_target_a": "the generator wants them to score c",
    "lsgan_g_sigmoid": "looks like a sigmoid applied to the discriminator's outputs",
    "lsgan_g_sum": "average with .mean(), not .sum()",
    "wgan_critic_wrong_sign": "wrong sign: the critic minimises mean(fake) - mean(real)",
    "wgan_critic_sum": "use .mean(), not .sum()",
    "wgan_critic_sigmoid": "looks like a sigmoid applied to the critic's scores",
    "wgan_critic_mean_of_differences": "the real and fake batches may differ in size: take each mean separately",
    "wgan_generator_wrong_sign": "wrong sign: the generator minimises -mean(fake_out)",
    "wgan_generator_sum": "use .mean(), not .sum()",
    "wgan_generator_sigmoid": "looks like a sigmoid applied to the critic's scores",
    "clip_only_weights": "biases and normalisation layers too",
    "clip_builds_graph": "builds an autograd graph",
    "clip_state_dict": "a buffer changed (batch norm's running variance)",
    "clip_gradients": "clipped the gradients (clip_grad_value_ clips p.grad), not the parameters",
    "gp_eps_shared_by_the_batch": "every sample of the batch got the same eps",
    "gp_eps_per_pixel": "eps differs between the pixels of one image",
    "gp_norm_of_the_whole_batch": "one norm for the whole batch",
    "gp_without_create_graph": "create_graph=True",
    "gp_not_squared": "(||grad|| - 1) is not squared",
    "gp_one_sided": "one-sided",
    "gp_eps_only_for_images": "gradient_penalty fails for inputs of shape (6, 5)",
    "gp_square_of_mean_norm": "looks like the square of the mean norm",
    "gp_gradient_at_real": "taken at the real (or fake) images themselves, not at random interpolates",
    "gp_gradient_wrt_real": "the gradient was taken with respect to real (or fake), not x_hat",
    "critic_n_critic_ignored": "use the n_critic argument, do not hard-code 5",
    "critic_zero_grad_once": "zero the critic's gradients (opt_C.zero_grad()) in every critic iteration",
    "critic_same_batch_every_update": "take a new batch, next(real_batches), for every critic update",
    "critic_gp_weight_ignored": "is the penalty multiplied by the gp_weight argument?",
    "critic_loss_leaks_into_g": "call opt_G.zero_grad() before g_loss.backward()",
    "critic_noise_on_default_device": "pass device=real.device to sample_noise",
    "critic_inlined_wrong_sign": "the critic's loss has the wrong sign",
    "critic_inlined_no_penalty": "the critic's update has no gradient penalty",
    "critic_inlined_g_wrong_sign": "the generator's loss has the wrong sign",
    "critic_c_loss_with_penalty": "'c_loss' should be the critic loss wgan_critic_loss(...) of the last critic update, "
                                  "without the penalty",
    "critic_gp_weighted": "'gp' should be the gradient penalty of the last critic update, without its weight",
    "critic_g_reuses_last_fakes": "the generator's update reused the fakes of the last critic update",
    "critic_noise_of_size_64": "draw as many noise vectors as the real batch has images",
    "hinge_d_swapped_signs": "looks like swapped signs",
    "hinge_d_without_relu": "the relu is missing",
    "hinge_d_sum": "use .mean(), not .sum()",
    "hinge_d_sigmoid": "looks like a sigmoid applied to the scores",
    "hinge_d_one_mean": "the real and fake batches may differ in size: take each mean separately",
    "hinge_g_with_a_hinge": "looks like a hinge on the generator's side",
    "hinge_g_wrong_sign": "wrong sign: the generator minimises -mean(fake_out)",
    "hinge_g_sum": "use .mean(), not .sum()",
    "augment_same_for_the_batch": "every image got the same translation",
    "augment_wraps_around": "pad with zeros instead of wrapping around",
    "augment_not_differentiable": "no gradient reaches x",
    "augment_mask_on_default_device": "created on the default device instead of x.device",
    "augment_cutout_in_place": "diff_augment changed its input x in place",
    "augment_cutout_per_channel": "the channels of one image were transformed differently",
    "augment_shift_truncated": "round translation x size (3.5 here) half up",
    "augment_cutout_filled_with_minus_one": "fill it with 0",
    "augment_cutout_twice_too_large": "the cut-out square covers the whole image",
}

# Other correct ways to write the exercises: they must get full marks too. This critic_train_step inlines the
# WGAN-GP formulas instead of calling the exercises, and switches the critic's gradients off for G's update.
ALTERNATIVES = {
    "minimax_generator_loss": '''
def minimax_generator_loss(fake_logits):
    return F.logsigmoid(-fake_logits).mean()
''',
    "lsgan_discriminator_loss": '''
def lsgan_discriminator_loss(real_out, fake_out, a=0.0, b=1.0):
    return 0.5 * F.mse_loss(real_out, torch.full_like(real_out, b)) + 0.5 * F.mse_loss(fake_out, torch.full_like(fake_out, a))
''',
    "lsgan_generator_loss": '''
def lsgan_generator_loss(fake_out, c=1.0):
    return F.mse_loss(fake_out, torch.full_like(fake_out, c)) / 2
''',
    "wgan_critic_loss": '''
def wgan_critic_loss(real_out, fake_out):
    return torch.mean(fake_out) - torch.mean(real_out)
''',
    "wgan_generator_loss": '''
def wgan_generator_loss(fake_out):
    return -torch.mean(fake_out)
''',
    "clip_weights": '''
def clip_weights(critic, c=0.01):
    for p in critic.parameters():
        p.data.clamp_(-c, c)
''',
    "gradient_penalty": '''
def gradient_penalty(critic, real, fake):
    batch_size = real.size(0)
    alpha = torch.rand(batch_size, 1, device=real.device)
    alpha = alpha.expand(batch_size, real.nelement() // batch_size).contiguous().view(real.size())
    interpolates = alpha * real + (1 - alpha) * fake
    interpolates.requires_grad_(True)
    scores = critic(interpolates)
    grads = torch.autograd.grad(outputs=scores, inputs=interpolates, grad_outputs=torch.ones_like(scores),
                                create_graph=True, retain_graph=True)[0]
    return ((grads.view(batch_size, -1).norm(2, dim=1) - 1) ** 2).mean()
''',
    "critic_train_step": '''
def critic_train_step(G, critic, opt_G, opt_C, real_batches, latent_dim, n_critic=5, gp_weight=10.0):
    for p in critic.parameters():
        p.requires_grad_(True)
    for _ in range(n_critic):
        real = next(real_batches)
        fake = G(torch.randn(real.shape[0], latent_dim, device=real.device)).detach()
        c_loss = critic(fake).mean() - critic(real).mean()
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        gp = ((grad.reshape(len(grad), -1).norm(dim=1) - 1) ** 2).mean()
        opt_C.zero_grad(set_to_none=True)
        (c_loss + gp_weight * gp).backward()
        opt_C.step()
    for p in critic.parameters():
        p.requires_grad_(False)
    g_loss = -critic(G(torch.randn(real.shape[0], latent_dim, device=real.device))).mean()
    opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_G.step()
    for p in critic.parameters():
        p.requires_grad_(True)
    return {"c_loss": float(c_loss), "g_loss": float(g_loss), "gp": float(gp)}
''',
    "hinge_discriminator_loss": '''
def hinge_discriminator_loss(real_out, fake_out):
    return torch.clamp(1 - real_out, min=0).mean() + torch.clamp(1 + fake_out, min=0).mean()
''',
    "hinge_generator_loss": '''
def hinge_generator_loss(fake_out):
    return -torch.mean(fake_out)
''',
    "diff_augment": '''
def diff_augment(x, translation=0.125, cutout=0.5):
    """A loop over the images; the cut-out's centre lies anywhere and the border may cut it (as in DiffAugment)."""
    B, C, H, W = x.shape
    sh, sw = int(H * translation + 0.5), int(W * translation + 0.5)
    ch, cw = int(H * cutout + 0.5), int(W * cutout + 0.5)
    images = []
    for image in x:
        if translation > 0:
            dy, dx = int(torch.randint(-sh, sh + 1, ())), int(torch.randint(-sw, sw + 1, ()))
            image = F.pad(image, [sw, sw, sh, sh])[:, sh - dy:sh - dy + H, sw - dx:sw - dx + W]
        if cutout > 0:
            cy, cx = int(torch.randint(0, H + 1, ())), int(torch.randint(0, W + 1, ()))
            mask = torch.ones(H, W, device=x.device, dtype=x.dtype)
            mask[max(cy - ch // 2, 0):cy - ch // 2 + ch, max(cx - cw // 2, 0):cx - cw // 2 + cw] = 0
            image = image * mask
        images.append(image)
    return torch.stack(images)
''',
}

SPEC = FlowSpec(
    assignment="03_losses",
    notebook="losses",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    calls={"critic_train_step": ["gradient_penalty", "wgan_critic_loss", "wgan_generator_loss"]},
    feedback_phrases={
        "wrong_1": ["looks like the non-saturating loss", "every sample of the batch got the same eps",
                    "Note: exercise 4 (wgan_critic_loss) is not right yet",
                    "Note: exercise 5 (wgan_generator_loss) is not right yet"],
        "wrong_2": ["eps differs between the pixels of one image", "builds an autograd graph"],
        "wrong_4": ["create_graph=True", "Note: exercise 7 (gradient_penalty) is not right yet"],
        "wrong_6": ["one-sided"],
        "wrong_8": ["use the n_critic argument, do not hard-code 5"],
        "wrong_9": ["zero the critic's gradients (opt_C.zero_grad()) in every critic iteration"],
        "wrong_14": [HINTS["gp_square_of_mean_norm"]],
        "wrong_15": [HINTS["critic_inlined_wrong_sign"], "the formulas you wrote out instead are graded here"],
        "wrong_16": [HINTS["critic_g_reuses_last_fakes"]],
    },
)
graded = graded_course_fixture(SPEC)
