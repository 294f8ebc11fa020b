"""The real nbgrader workflow on notebook 07 (CycleGAN): generate, autograde right and wrong submissions, feedback."""
from __future__ import annotations

import pytest

from nbgrader_flow import *  # noqa: F403 (the standard flow tests, run on this module's SPEC)
from nbgrader_flow import FlowSpec, Mistake, graded_course_fixture

pytestmark = pytest.mark.slow

# Typical mistakes: the answer that replaces one solution cell, and the test cell that must lose its points. Most
# of them are the reference answer with one part replaced, so they are built from these templates.
CYCLE = '''
def cycle_consistency_loss(real, reconstructed):
    return {body}
'''
IDENTITY = '''
def identity_loss(real, same):
    return {body}
'''
G_LOSS = '''
def cyclegan_generator_loss(d_a_fake_out, d_b_fake_out, real_a, rec_a, real_b, rec_b, idt_a=None, idt_b=None,
                            lambda_cycle=10.0, lambda_identity=0.5):
    adversarial = {adversarial}
    cycle = {cycle}
    loss = adversarial + {cycle_weight} * cycle
    if {condition}:
        loss = loss + {identity_weight} * ({identity})
    return loss
'''
POOL = '''
class ImagePool:
    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.images = []

    def query(self, images):
        {size_check}
        returned = []
        for image in images{detach}:
            if len(self.images) < self.pool_size:
                self.images.append(image{copy})
                {return_while_filling}
            elif {coin}:
                index = {index}
                returned.append(self.images[index])
                {store}
            else:
                returned.append(image)
        return {result}
'''
BCE = "F.binary_cross_entropy_with_logits"


def cycle(body: str) -> str:
    """A cycle_consistency_loss answer."""
    return CYCLE.format(body=body)


def identity(body: str) -> str:
    """An identity_loss answer."""
    return IDENTITY.format(body=body)


def g_loss(adversarial: str = "(d_a_fake_out - 1).square().mean() + (d_b_fake_out - 1).square().mean()",
           cycle: str = "cycle_consistency_loss(real_a, rec_a) + cycle_consistency_loss(real_b, rec_b)",
           cycle_weight: str = "lambda_cycle", condition: str = "idt_a is not None and idt_b is not None",
           identity_weight: str = "lambda_cycle * lambda_identity",
           identity: str = "identity_loss(real_a, idt_a) + identity_loss(real_b, idt_b)") -> str:
    """A cyclegan_generator_loss answer, correct unless one of its parts is replaced."""
    return G_LOSS.format(adversarial=adversarial, cycle=cycle, cycle_weight=cycle_weight, condition=condition,
                         identity_weight=identity_weight, identity=identity)


def pool(size_check: str = "if self.pool_size == 0:\n            return images", detach: str = ".detach()",
         copy: str = ".clone()", return_while_filling: str = "returned.append(image)",
         coin: str = "random.random() < 0.5", index: str = "random.randrange(self.pool_size)",
         store: str = "self.images[index] = image.clone()", result: str = "torch.stack(returned)") -> str:
    """An ImagePool answer, correct unless one of its parts is replaced."""
    return POOL.format(size_check=size_check, detach=detach, copy=copy, return_while_filling=return_while_filling,
                       coin=coin, index=index, store=store, result=result)


def mistake(cell: str, code: str) -> Mistake:
    """A wrong answer to `cell` that must cost the points of its own test cell, and only those."""
    return Mistake(cell, code, (f"test_{cell}",))


# The mistakes that go through nbgrader (every one is in one of WRONG_SUBMISSIONS).
MISTAKES = {
    # exercise 1: cycle_consistency_loss
    "cycle_l2": mistake("cycle_loss", cycle("(reconstructed - real).square().mean()")),
    "cycle_summed": mistake("cycle_loss", cycle("(reconstructed - real).abs().sum()")),
    "cycle_item": mistake("cycle_loss", cycle("(reconstructed - real).abs().mean().item()")),
    "cycle_signed_mean": mistake("cycle_loss", cycle("(reconstructed - real).mean()")),
    "cycle_detached": mistake("cycle_loss", cycle("(reconstructed.detach() - real).abs().mean()")),
    # exercise 2: identity_loss
    "identity_summed": mistake("identity_loss", identity("(same - real).abs().sum()")),
    "identity_signed_mean": mistake("identity_loss", identity("(same - real).mean()")),
    "identity_l2": mistake("identity_loss", identity("F.mse_loss(same, real)")),
    "identity_item": mistake("identity_loss", identity("(same - real).abs().mean().item()")),
    # exercise 3: cyclegan_generator_loss
    "g_bce": mistake("generator_loss", g_loss(
        adversarial=f"{BCE}(d_a_fake_out, torch.ones_like(d_a_fake_out)) "
                    f"+ {BCE}(d_b_fake_out, torch.ones_like(d_b_fake_out))")),
    "g_identity_weighted_by_lambda_identity_alone": mistake("generator_loss", g_loss(
        identity_weight="lambda_identity")),
    "g_lambda_cycle_ignored": mistake("generator_loss", g_loss(cycle_weight="10.0",
                                                               identity_weight="10.0 * lambda_identity")),
    "g_identity_added_when_none": mistake("generator_loss", g_loss(condition="True")),
    "g_output_squared": mistake("generator_loss", g_loss(
        adversarial="d_a_fake_out.square().mean() + d_b_fake_out.square().mean()")),
    "g_idt_compared_with_the_other_domain": mistake("generator_loss", g_loss(
        identity="identity_loss(real_b, idt_a) + identity_loss(real_a, idt_b)")),
    "g_one_cycle_only": mistake("generator_loss", g_loss(cycle="cycle_consistency_loss(real_a, rec_a)")),
    # exercise 4: ImagePool
    "pool_returns_stored_but_keeps_it": mistake("image_pool", pool(store="pass")),
    "pool_stores_the_graph": mistake("image_pool", pool(detach="", copy="", store="self.images[index] = image")),
    "pool_swaps_the_whole_batch": mistake("image_pool", '''
class ImagePool:
    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        images = images.detach()
        if len(self.images) < self.pool_size:
            for image in images[:self.pool_size - len(self.images)]:
                self.images.append(image.clone())
            return images
        if random.random() < 0.5:
            return images
        returned = []
        for image in images:
            index = random.randrange(self.pool_size)
            returned.append(self.images[index])
            self.images[index] = image.clone()
        return torch.stack(returned)
'''),
    "pool_swaps_with_the_oldest": mistake("image_pool", pool(
        index="0", store="self.images.pop(0)\n                self.images.append(image.clone())")),
    "pool_always_swaps": mistake("image_pool", pool(coin="True")),
    "pool_not_returning_while_filling": mistake("image_pool", pool(return_while_filling="pass")),
    "pool_returns_a_list": mistake("image_pool", pool(result="returned")),
    "pool_size_0_not_handled": mistake("image_pool", pool(size_check="pass")),
}

HINTS = {
    "cycle_l2": "that is the squared error (0.5^2)",
    "cycle_summed": "the errors were summed; average them",
    "cycle_item": "do not call .item()",
    "cycle_signed_mean": "a signed mean lets the errors cancel",
    "cycle_detached": "do not detach it",
    "identity_summed": "identity_loss gave 8.0000 = 16 * 0.5: the errors were summed",
    "identity_signed_mean": "identity_loss gave 0: it needs the absolute value",
    "identity_l2": "identity_loss gave 0.2500 for pixels 0.5 apart: that is the squared error",
    "identity_item": "do not call .item()",
    "g_bce": "CycleGAN uses the least-squares loss",
    "g_identity_weighted_by_lambda_identity_alone": "not by lambda_identity alone",
    "g_lambda_cycle_ignored": "use the lambda_cycle argument",
    "g_identity_added_when_none": "when idt_a and idt_b are given",
    "g_output_squared": "not mean D(fake)^2",
    "g_idt_compared_with_the_other_domain": "so compare it with real_a",
    "g_one_cycle_only": "both cycles, A -> B -> A and B -> A -> B, count",
    "pool_returns_stored_but_keeps_it": "the new image must take its place in the pool",
    "pool_stores_the_graph": "store image.detach()",
    "pool_swaps_the_whole_batch": "decide for each image of the batch on its own",
    "pool_swaps_with_the_oldest": "not the oldest or the newest",
    "pool_always_swaps": "every image was swapped",
    "pool_not_returning_while_filling": "store each image and return it",
    "pool_returns_a_list": "query should return a tensor, got list",
    "pool_size_0_not_handled": "a pool of size 0 switches the pool off",
}

# Wrong submissions, at most one mistake per cell. cyclegan_generator_loss calls the two L1 losses, but its test
# runs it with stand-ins for them: submission 1 keeps the generator loss right, so their scores show that a
# wrong L1 loss costs the points of its own exercise only; most others combine mistakes in all four cells.
WRONG_SUBMISSIONS = {
    "wrong_1": ["cycle_l2", "identity_summed", "pool_returns_stored_but_keeps_it"],
    "wrong_2": ["cycle_summed", "identity_signed_mean", "g_bce", "pool_stores_the_graph"],
    "wrong_3": ["cycle_item", "identity_l2", "g_one_cycle_only", "pool_swaps_the_whole_batch"],
    "wrong_4": ["g_identity_weighted_by_lambda_identity_alone", "pool_swaps_with_the_oldest"],
    "wrong_5": ["cycle_signed_mean", "g_identity_added_when_none", "pool_not_returning_while_filling"],
    "wrong_6": ["cycle_detached", "g_lambda_cycle_ignored", "pool_always_swaps"],
    "wrong_7": ["identity_item", "g_idt_compared_with_the_other_domain", "pool_returns_a_list"],
    "wrong_8": ["g_output_squared", "pool_size_0_not_handled"],
}

# More mistakes, checked in-process only (test_notebook_07.py) to keep the nbgrader run short.
MORE_MISTAKES = {
    # from the student walkthrough: wrong attempts the visible tests used to pass
    "cycle_channels_summed": mistake("cycle_loss", cycle("(reconstructed - real).abs().sum(dim=1).mean()")),
    "identity_halved": mistake("identity_loss", identity("0.5 * (same - real).abs().mean()")),
    "g_adversarial_summed_over_the_batch": mistake("generator_loss", g_loss(
        adversarial="(d_a_fake_out - 1).square().mean(dim=(1, 2, 3)).sum() "
                    "+ (d_b_fake_out - 1).square().mean(dim=(1, 2, 3)).sum()")),
    "pool_swaps_the_second_half_of_each_batch": mistake("image_pool", pool(coin="len(returned) >= len(images) // 2")),
    "pool_stores_a_whole_batch_while_there_is_room": mistake("image_pool", '''
class ImagePool:
    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        images = images.detach()
        if len(self.images) < self.pool_size:
            self.images.extend(image.clone() for image in images)
            return images
        returned = []
        for image in images:
            if random.random() < 0.5:
                index = random.randrange(len(self.images))
                returned.append(self.images[index])
                self.images[index] = image.clone()
            else:
                returned.append(image)
        return torch.stack(returned)
'''),
    "cycle_first_image_only": mistake("cycle_loss", cycle("(reconstructed[0] - real[0]).abs().mean()")),
    "identity_detached": mistake("identity_loss", identity("(same.detach() - real).abs().mean()")),
    "g_identity_weighted_by_lambda_cycle_alone": mistake("generator_loss", g_loss(identity_weight="lambda_cycle")),
    "g_idt_a_compared_with_real_b": mistake("generator_loss", g_loss(
        identity="identity_loss(real_b, idt_a) + identity_loss(real_b, idt_b)")),
    "g_cycle_compared_with_the_other_domain": mistake("generator_loss", g_loss(
        cycle="cycle_consistency_loss(real_b, rec_a) + cycle_consistency_loss(real_a, rec_b)")),
    "g_cycle_unweighted": mistake("generator_loss", g_loss(cycle_weight="1.0")),
    "g_cycle_squared": mistake("generator_loss", g_loss(
        cycle="(rec_a - real_a).square().mean() + (rec_b - real_b).square().mean()")),
    "g_one_adversarial_term": mistake("generator_loss", g_loss(adversarial="(d_a_fake_out - 1).square().mean()")),
    "g_adversarial_summed_over_patches": mistake("generator_loss", g_loss(
        adversarial="(d_a_fake_out - 1).square().sum() + (d_b_fake_out - 1).square().sum()")),
    "g_adversarial_averaged": mistake("generator_loss", g_loss(
        adversarial="((d_a_fake_out - 1).square().mean() + (d_b_fake_out - 1).square().mean()) / 2")),
    "g_identity_crashes_when_none": mistake("generator_loss", g_loss(condition="lambda_identity > 0")),
    "g_identity_never_added": mistake("generator_loss", g_loss(condition="False")),
    "g_outputs_detached": mistake("generator_loss", g_loss(
        adversarial="(d_a_fake_out.detach() - 1).square().mean() + (d_b_fake_out.detach() - 1).square().mean()")),
    "g_identity_default_zero": mistake("generator_loss", g_loss().replace("lambda_identity=0.5",
                                                                          "lambda_identity=0.0")),
    "pool_never_swaps": mistake("image_pool", pool(coin="False")),
    "pool_swaps_with_the_newest": mistake("image_pool", pool(
        index="-1", store="self.images.pop()\n                self.images.append(image.clone())")),
    "pool_swaps_one_time_in_four": mistake("image_pool", pool(coin="random.random() < 0.25")),
    "pool_size_0_still_stores": mistake("image_pool", pool(
        size_check="if self.pool_size == 0:\n            self.images.extend(images.detach())\n"
                   "            return images")),
    "pool_stores_the_graph_detaches_on_return": mistake("image_pool", pool(
        detach="", copy="", store="self.images[index] = image", result="torch.stack(returned).detach()")),
    "pool_preallocated_returns_views": mistake("image_pool", '''
class ImagePool:
    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.count = 0
        self.images = None

    def query(self, images):
        if self.pool_size == 0:
            return images
        returned = []
        for image in images.detach():
            if self.images is None:
                self.images = image.new_empty((self.pool_size, *image.shape))
            if self.count < self.pool_size:
                self.images[self.count] = image
                self.count += 1
                returned.append(image)
            elif random.random() < 0.5:
                index = random.randrange(self.pool_size)
                returned.append(self.images[index])  # a view: the next line overwrites it
                self.images[index] = image
            else:
                returned.append(image)
        return torch.stack(returned)
'''),
    "pool_fills_with_swaps": mistake("image_pool", pool(
        return_while_filling="returned.append(random.choice(self.images))")),
}

MORE_HINTS = {
    "cycle_channels_summed": "the channels were summed",
    "identity_halved": "or a halved L1",
    "g_adversarial_summed_over_the_batch": "the adversarial terms were summed over the images of the batch",
    "pool_swaps_the_second_half_of_each_batch": "decide at random for each image, not by its position",
    "pool_stores_a_whole_batch_while_there_is_room": "more than pool_size=10",
    "cycle_first_image_only": "only the first image of the batch counted",
    "identity_detached": "do not detach it",
    "g_identity_weighted_by_lambda_cycle_alone": "not lambda_cycle alone",
    "g_idt_a_compared_with_real_b": "so compare it with real_a",
    "g_cycle_compared_with_the_other_domain": "compare rec_a with real_a",
    "g_cycle_unweighted": "the cycle terms are weighted by lambda_cycle",
    "g_cycle_squared": "use the L1 cycle loss (mean absolute error), not a squared error",
    "g_one_adversarial_term": "only one adversarial term counted",
    "g_adversarial_summed_over_patches": "summed over the 2x2 patch map",
    "g_adversarial_averaged": "or the two were averaged",
    "g_identity_crashes_when_none": "when idt_a and idt_b are given",
    "g_identity_never_added": "when idt_a and idt_b are given, add the identity terms",
    "g_outputs_detached": "do not detach the discriminator outputs",
    "g_identity_default_zero": "when idt_a and idt_b are given, add the identity terms",
    "pool_never_swaps": "no image was ever swapped",
    "pool_swaps_with_the_newest": "not the oldest or the newest",
    "pool_swaps_one_time_in_four": "the probability should be 0.5",
    "pool_size_0_still_stores": "stores nothing (otherwise it grows without bound)",
    "pool_stores_the_graph_detaches_on_return": "store image.detach()",
    "pool_preallocated_returns_views": "was never given to the pool before it",
    "pool_fills_with_swaps": "while the pool is not full it stores each image and returns it unchanged",
}

# Other correct ways to write the exercises: they must get full marks too. ALTERNATIVES go through nbgrader as one
# submission; MORE_ALTERNATIVES are checked in-process (test_notebook_07.py), cell by cell.
ALTERNATIVES = {
    "cycle_loss": '''
def cycle_consistency_loss(real, reconstructed):
    """As the official code: criterionCycle = torch.nn.L1Loss()."""
    return nn.L1Loss()(reconstructed, real)
''',
    "identity_loss": '''
def identity_loss(real, same):
    """As the official code: criterionIdt = torch.nn.L1Loss()."""
    return nn.L1Loss()(same, real)
''',
    "generator_loss": '''
def cyclegan_generator_loss(d_a_fake_out, d_b_fake_out, real_a, rec_a, real_b, rec_b, idt_a=None, idt_b=None,
                            lambda_cycle=10.0, lambda_identity=0.5):
    """As the official backward_G: GANLoss('lsgan') is MSELoss against a tensor of ones, the rest weighted."""
    criterionGAN = nn.MSELoss()
    loss_G_A = criterionGAN(d_a_fake_out, torch.ones_like(d_a_fake_out))
    loss_G_B = criterionGAN(d_b_fake_out, torch.ones_like(d_b_fake_out))
    loss_cycle_A = cycle_consistency_loss(real_a, rec_a) * lambda_cycle
    loss_cycle_B = cycle_consistency_loss(real_b, rec_b) * lambda_cycle
    if idt_a is not None and idt_b is not None:
        loss_idt_A = identity_loss(real_a, idt_a) * lambda_cycle * lambda_identity
        loss_idt_B = identity_loss(real_b, idt_b) * lambda_cycle * lambda_identity
    else:
        loss_idt_A = loss_idt_B = 0
    return loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
''',
    "image_pool": '''
class ImagePool:
    """The official ImagePool (util/image_pool.py): random.uniform for the coin, random.randint for the slot."""

    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        if self.pool_size > 0:
            self.num_imgs = 0
            self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        return_images = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs = self.num_imgs + 1
                self.images.append(image)
                return_images.append(image)
            else:
                p = random.uniform(0, 1)
                if p > 0.5:
                    random_id = random.randint(0, self.pool_size - 1)
                    tmp = self.images[random_id].clone()
                    self.images[random_id] = image
                    return_images.append(tmp)
                else:
                    return_images.append(image)
        return_images = torch.cat(return_images, 0)
        return return_images
''',
}

MORE_ALTERNATIVES = {
    "cycle_loss": ['''
def cycle_consistency_loss(real, reconstructed):
    return F.l1_loss(reconstructed, real)
''', '''
def cycle_consistency_loss(real, reconstructed):
    return torch.mean(torch.abs(real - reconstructed))
''', '''
def cycle_consistency_loss(real, reconstructed):
    """Per-image means, then their mean (every image has as many pixels)."""
    return (real - reconstructed).abs().flatten(1).mean(dim=1).mean()
'''],
    "identity_loss": ['''
def identity_loss(real, same):
    return F.l1_loss(same, real, reduction="mean")
''', '''
def identity_loss(real, same):
    return (real - same).abs().sum() / real.numel()
''', '''
def identity_loss(real, same):
    """The identity loss is the cycle loss of the image and its image under the other domain's generator."""
    return cycle_consistency_loss(real, same)
'''],
    "generator_loss": ['''
def cyclegan_generator_loss(d_a_fake_out, d_b_fake_out, real_a, rec_a, real_b, rec_b, idt_a=None, idt_b=None,
                            lambda_cycle=10.0, lambda_identity=0.5):
    """F.mse_loss against ones, the L1 losses written inline."""
    loss = F.mse_loss(d_a_fake_out, torch.ones_like(d_a_fake_out)) + F.mse_loss(d_b_fake_out,
                                                                                torch.ones_like(d_b_fake_out))
    loss = loss + lambda_cycle * ((rec_a - real_a).abs().mean() + (rec_b - real_b).abs().mean())
    if idt_a is not None and idt_b is not None:
        loss = loss + lambda_cycle * lambda_identity * ((idt_a - real_a).abs().mean() + (idt_b - real_b).abs().mean())
    return loss
''', '''
def cyclegan_generator_loss(d_a_fake_out, d_b_fake_out, real_a, rec_a, real_b, rec_b, idt_a=None, idt_b=None,
                            lambda_cycle=10.0, lambda_identity=0.5):
    """Each identity term added when its own image is given; the terms summed with sum()."""
    terms = [((d_a_fake_out - 1) ** 2).mean(), ((d_b_fake_out - 1) ** 2).mean(),
             lambda_cycle * cycle_consistency_loss(real_a, rec_a), lambda_cycle * cycle_consistency_loss(real_b, rec_b)]
    if idt_a is not None:
        terms.append(lambda_cycle * lambda_identity * identity_loss(real_a, idt_a))
    if idt_b is not None:
        terms.append(lambda_cycle * lambda_identity * identity_loss(real_b, idt_b))
    return sum(terms)
''', '''
def cyclegan_generator_loss(d_a_fake_out, d_b_fake_out, real_a, rec_a, real_b, rec_b, idt_a=None, idt_b=None,
                            lambda_cycle=10.0, lambda_identity=0.5):
    """The identity terms skipped when lambda_identity is 0 as well (the official code computes them only then)."""
    adversarial = torch.mean((d_a_fake_out - 1) ** 2) + torch.mean((d_b_fake_out - 1) ** 2)
    loss = adversarial + lambda_cycle * (cycle_consistency_loss(real_a, rec_a) + cycle_consistency_loss(real_b, rec_b))
    if lambda_identity > 0 and idt_a is not None and idt_b is not None:
        identity = identity_loss(real_a, idt_a) + identity_loss(real_b, idt_b)
        loss = loss + lambda_identity * lambda_cycle * identity
    return loss
'''],
    "image_pool": ['''
class ImagePool:
    """torch.rand for the coin and torch.randint for the slot, instead of the random module."""

    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()).item() < 0.5:
                index = int(torch.randint(self.pool_size, ()))
                out.append(self.images[index])
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out)
''', '''
class ImagePool:
    """A preallocated tensor of the pool's images; a stored image is cloned before its slot is overwritten."""

    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.count = 0
        self.images = None

    def query(self, images):
        if self.pool_size == 0:
            return images
        images = images.detach()
        if self.images is None:
            self.images = images.new_empty((self.pool_size, *images.shape[1:]))
        returned = images.clone()
        for i, image in enumerate(images):
            if self.count < self.pool_size:
                self.images[self.count] = image
                self.count += 1
            elif random.random() < 0.5:
                index = random.randrange(self.pool_size)
                returned[i] = self.images[index].clone()
                self.images[index] = image
        return returned
''', '''
class ImagePool:
    """Clones on the way out as well as on the way in, and a list comprehension of decisions."""

    def __init__(self, pool_size=50):
        self.pool_size = pool_size
        self.stored = []

    def _one(self, image):
        if len(self.stored) < self.pool_size:
            self.stored.append(image.clone())
            return image.clone()
        if random.random() >= 0.5:
            return image.clone()
        slot = random.randint(0, self.pool_size - 1)
        old, self.stored[slot] = self.stored[slot], image.clone()
        return old.clone()

    def query(self, images):
        if not self.pool_size:
            return images
        with torch.no_grad():
            return torch.stack([self._one(image) for image in images])
'''],
}

SPEC = FlowSpec(
    assignment="07_cyclegan",
    notebook="cyclegan",
    mistakes=MISTAKES,
    wrong_submissions=WRONG_SUBMISSIONS,
    alternatives=ALTERNATIVES,
    feedback_phrases={
        "wrong_1": [HINTS["cycle_l2"], HINTS["identity_summed"], HINTS["pool_returns_stored_but_keeps_it"]],
        "wrong_2": [HINTS["cycle_summed"], HINTS["g_bce"], HINTS["pool_stores_the_graph"]],
        "wrong_3": [HINTS["cycle_item"], HINTS["g_one_cycle_only"], HINTS["pool_swaps_the_whole_batch"]],
        "wrong_4": [HINTS["g_identity_weighted_by_lambda_identity_alone"], HINTS["pool_swaps_with_the_oldest"]],
        "wrong_6": [HINTS["g_lambda_cycle_ignored"], HINTS["pool_always_swaps"]],
    },
)
graded = graded_course_fixture(SPEC)
