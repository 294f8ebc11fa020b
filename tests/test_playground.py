"""gancourse.playground: training and snapshots without a front end, bad settings, the background thread, and
importing it without the view. Helpers here are shared with test_playground_view.py."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from gancourse import playground, toy2d, widgets
from gancourse.playground import Loss, Playground


def pack(x, m):
    """The course's packing, written out here: groups of m consecutive rows side by side."""
    return x.reshape(len(x) // m, m * x.shape[1])


def gradient_penalty(critic, real, fake):
    eps = torch.rand(len(real), 1)
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


def coverage(samples, centers, std):
    distance, nearest = torch.cdist(samples, centers).min(dim=1)
    good = distance < 3 * std
    return len(set(nearest[good].tolist())), good.float().mean().item()


NON_SATURATING = Loss(lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
                      lambda fake: F.softplus(-fake).mean())
WGAN_GP = Loss(lambda real, fake: fake.mean() - real.mean(), lambda fake: -fake.mean(), gradient_penalty)
LOSSES = {"non-saturating": NON_SATURATING, "WGAN-GP": WGAN_GP}


def make(**settings) -> Playground:
    settings.setdefault("static", True)
    settings.setdefault("snapshot_every", 10)
    return Playground(LOSSES, pack, **settings)


def wait_for(condition, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _no_front_end(monkeypatch):
    monkeypatch.delenv(widgets.WIDGETS_ENV, raising=False)
    for name in ("JPY_SESSION_NAME", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stopped():
    """Playgrounds to stop at the end of the test, whatever happened."""
    made = []
    yield made
    for pg in made:
        pg.pause()


# --- training without a front end -----------------------------------------------------------------------------

def test_run_records_every_step_and_snapshots_every_few():
    pg = make(coverage=coverage)
    history = pg.run(25)
    assert history is pg.history and history.step == 25 and history.steps == list(range(1, 26))
    assert set(history.losses) == {"d_loss", "g_loss"} and all(len(v) == 25 for v in history.losses.values())
    assert [s.step for s in pg.snapshots] == [0, 10, 20, 25], "every 10 steps, and the end of the run"
    assert history.metric_steps == [0, 10, 20, 25]
    assert set(history.metrics) == {"modes captured", "high-quality fraction"}
    shot = pg.snapshots[-1]
    assert shot.fake.shape == (playground.SHOWN, 2) and shot.arrows.shape == (playground.ARROWS, 2)
    assert shot.heat.shape == (playground.HEAT_RESOLUTION, playground.HEAT_RESOLUTION)
    assert torch.equal(shot.fake, pg.capture().fake), "the last snapshot is the current state"
    pg.run(5)
    assert pg.history.step == 30 and pg.snapshots[-1].step == 30


def test_coverage_is_measured_on_the_papers_sample_count_only_for_mixtures():
    seen = []

    def recorded(samples, centers, std):
        seen.append((samples.shape, centers.shape, std))
        return coverage(samples, centers, std)

    pg = make(coverage=recorded, distribution="grid of 25")
    pg.run(1)
    assert seen[-1] == ((toy2d.EVAL_SAMPLES, 2), (25, 2), 0.05)
    pg.configure(distribution="two moons")
    count = len(seen)
    pg.run(12)
    assert len(seen) == count and pg.history.metrics == {}, "two moons has no modes to count"


def test_changing_distribution_loss_or_packing_starts_again_and_rates_apply_at_once():
    pg = make()
    for change in ({"distribution": "grid of 25"}, {"loss": "WGAN-GP"}, {"packing": 2}):
        pg.run(3)
        before = pg.discriminator
        pg.configure(**change)
        assert pg.history.step == 0 and [s.step for s in pg.snapshots] == [0], f"{change} should restart"
        assert pg.discriminator is not before
    assert pg.discriminator[0].in_features == 4, "a packed discriminator judges 2 points of 2 coordinates"
    pg.run(3)
    pg.configure(lr_g=2e-4, lr_d=5e-4, d_steps=3)
    assert pg.history.step == 3, "learning rates and D steps do not restart"
    assert [g["lr"] for g in pg.opt_g.param_groups] == [2e-4] and [g["lr"] for g in pg.opt_d.param_groups] == [5e-4]
    pg.reset()
    assert pg.history.step == 0 and pg.opt_g.param_groups[0]["lr"] == 2e-4


def test_d_steps_and_the_penalty_reach_the_discriminator():
    calls = {"d": 0, "g": 0, "penalty": []}

    def d_loss(real, fake):
        calls["d"] += 1
        return fake.mean() - real.mean()

    def g_loss(fake):
        calls["g"] += 1
        return -fake.mean()

    def penalty(critic, real, fake):
        calls["penalty"].append((real.shape, fake.shape))
        return gradient_penalty(critic, real, fake)

    pg = Playground({"counted": Loss(d_loss, g_loss, penalty, 5.0)}, pack, packing=4, d_steps=3, batch_size=64,
                    snapshot_every=1000, static=True)
    calls["g"] = 0  # the first snapshot's gradient field called the G loss once
    pg.run(2)
    assert calls["d"] == 6 and calls["g"] == 2 + 1, "3 D steps per G step, and the final snapshot's gradient field"
    assert calls["penalty"] == [((16, 8), (16, 8))] * 6, "the penalty sees packed real and fake batches"
    assert len(pg.history.losses["penalty"]) == 2


def test_same_seed_same_run_and_the_callers_random_numbers_are_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    one = make(loss="WGAN-GP", packing=2)  # its penalty draws from torch's global RNG
    one.run(15)
    assert torch.equal(torch.rand(3), expected), "the playground must not consume the notebook's random numbers"
    other = make(loss="WGAN-GP", packing=2)
    for _ in range(15):
        other.step()
    assert one.history.losses == other.history.losses
    assert torch.equal(one.snapshots[-1].fake, other.snapshots[-1].fake)
    assert torch.equal(one.snapshots[-1].heat, other.snapshots[-1].heat)
    reseeded = make(loss="WGAN-GP", packing=2, seed=1)
    reseeded.run(15)
    assert reseeded.history.losses != one.history.losses


def linear_critic(weights, bias=0.0) -> nn.Module:
    critic = nn.Sequential(nn.Linear(len(weights), 1), nn.Flatten(0))
    with torch.no_grad():
        critic[0].weight.copy_(torch.tensor([weights]))
        critic[0].bias.fill_(bias)
    return critic


@pytest.mark.parametrize("loss", ["non-saturating", "WGAN-GP"])
def test_gradient_field_points_up_the_slope_of_a_linear_discriminator(loss):
    pg = make(loss=loss)
    pg.discriminator = linear_critic([3.0, 4.0])  # D(x) = 3 x + 4 y: G gains by moving every point along (3, 4)
    points = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    arrows = pg.gradient_field(points)
    directions = arrows / arrows.norm(dim=1, keepdim=True)
    assert torch.allclose(directions, torch.tensor([[0.6, 0.8]]).expand(8, 2), atol=1e-5)
    if loss == "WGAN-GP":
        assert torch.allclose(arrows, torch.tensor([[3.0, 4.0]]) / 8), "-d(-mean D)/dx = w / N"
    shot = pg.capture()
    assert shot.arrows.shape == (playground.ARROWS, 2)
    assert torch.allclose(shot.arrows / shot.arrows.norm(dim=1, keepdim=True), directions[:1].expand_as(shot.arrows),
                          atol=1e-5)


def test_packed_gradient_field_and_heat_map():
    pg = make(loss="WGAN-GP", packing=2)
    pg.discriminator = linear_critic([1.0, 0.0, 0.0, 2.0], bias=0.5)  # D(p, q) = p_x + 2 q_y + 0.5
    arrows = pg.gradient_field(torch.zeros(4, 2))
    assert torch.allclose(arrows, torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 2.0]]) / 2), (
        "the first point of each pack moves along x, the second along y")
    heat = pg.heat_map()
    x, y = pg._grid[:, 0], pg._grid[:, 1]
    assert torch.allclose(heat.flatten(), x + 2 * y + 0.5, atol=1e-5), "the heat map judges 2 copies of each point"
    centre_x, centre_y, half = pg.bounds
    assert heat[0, -1] == pytest.approx(centre_x + half + 2 * (centre_y - half) + 0.5, abs=1e-4), "rows along y"


def test_snapshots_are_thinned_out_on_long_runs(monkeypatch):
    monkeypatch.setattr(playground, "MAX_SNAPSHOTS", 6)
    pg = make(snapshot_every=1)
    pg.run(20)
    steps = [s.step for s in pg.snapshots]
    assert len(steps) <= 6 and steps[0] == 0 and steps[-1] == 20 and steps == sorted(steps)
    assert pg.snapshot_every > 1
    pg.reset()
    assert pg.snapshot_every == 1


def test_a_static_playground_trains_its_budget_when_displayed(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(playground, "show", shown.append)
    pg = make(steps=12)
    assert pg.view is None and repr(pg).endswith("step 0, static figure>")
    pg._ipython_display_()
    assert pg.history.step == 12 and len(shown) == 1 and isinstance(shown[0], Figure)
    assert capsys.readouterr().out.startswith("step 12, d_loss ")
    pg._ipython_display_()
    assert pg.history.step == 12, "a trained playground is shown as it is"


def test_fast_mode_shrinks_the_display_budget(monkeypatch):
    assert make().steps == 2000
    monkeypatch.setenv("GANCOURSE_FAST", "1")
    assert make().steps == 100


def test_training_without_a_front_end_imports_neither_the_view_nor_ipywidgets():
    code = textwrap.dedent("""\
        import sys
        from gancourse.playground import Loss, Playground
        pg = Playground({"wgan": Loss(lambda r, f: f.mean() - r.mean(), lambda f: -f.mean())}, static=True)
        pg.run(2)
        print(sorted(m for m in ("ipywidgets", "gancourse.playground_view") if m in sys.modules))
        pg.figure()
        print(sorted(m for m in ("ipywidgets", "gancourse.playground_view") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['gancourse.playground_view']"], "drawing loads the view, not ipywidgets"


# --- bad settings ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("settings", "message"), [
    ({"distribution": "ring"}, "unknown distribution 'ring'; choose one of 'ring of 8', 'grid of 25', 'two moons'"),
    ({"loss": "hinge"}, "unknown loss 'hinge'; choose one of 'non-saturating', 'WGAN-GP'"),
    ({"packing": 7}, "packing=7 does not divide batch_size=240"),
    ({"packing": 0}, "packing must be a positive integer, got 0"),
    ({"lr_g": 0.0}, "lr_g must be a positive number, got 0.0"),
    ({"lr_d": -1e-3}, "lr_d must be a positive number, got -0.001"),
    ({"lr_d": float("nan")}, "lr_d must be a positive number, got nan"),
    ({"d_steps": 0}, "d_steps must be a positive integer, got 0"),
    ({"d_step": 2}, "unknown setting 'd_step'"),
])
def test_bad_settings_are_named_and_change_nothing(settings, message):
    pg = make()
    pg.run(2)
    with pytest.raises(ValueError, match=message):
        pg.configure(**settings)
    assert pg.history.step == 2 and (pg.distribution, pg.loss, pg.packing, pg.d_steps) == \
        ("ring of 8", "non-saturating", 1, 1)
    if "d_step" not in settings:
        with pytest.raises(ValueError, match=message):
            make(**settings)


@pytest.mark.parametrize("steps", [0, -3, 2.5])
def test_steps_must_be_positive_integers(steps):
    pg = make()
    for call, name in ((pg.run, "steps"), (pg.step, "n")):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer, got {steps}"):
            call(steps)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        make(steps=steps)


def test_packing_needs_a_working_pack():
    with pytest.raises(ValueError, match=r"packing=2 needs your pack function: Playground\(losses, pack=pack\)"):
        Playground(LOSSES, packing=2, static=True)

    def unwritten(x, m):
        raise NotImplementedError()

    with pytest.raises(ValueError, match="packing=2 needs pack, which is not written yet"):
        Playground(LOSSES, unwritten, packing=2, static=True)
    with pytest.raises(ValueError, match=r"pack\(x, 2\) with x of shape \(240, 2\) should return shape \(120, 4\), "
                                         r"got \(240, 2\)"):
        Playground(LOSSES, lambda x, m: x, packing=2, static=True)
    assert Playground(LOSSES, static=True).packing_options() == [1]
    assert make().packing_options() == [1, 2, 3, 4, 5, 6, 8]


def test_losses_must_be_loss_objects():
    with pytest.raises(ValueError, match="losses must map at least one name"):
        Playground({}, static=True)
    with pytest.raises(TypeError, match=r"losses\['vanilla'\] must be a Loss\(discriminator=..., generator=...\), "
                                         "got function"):
        Playground({"vanilla": lambda real, fake: 0}, static=True)


def test_a_diverging_run_stops_with_the_step_and_the_loss():
    exploding = Loss(lambda real, fake: fake.mean() - real.mean() + float("nan"), lambda fake: -fake.mean())
    pg = Playground({"exploding": exploding}, static=True)
    with pytest.raises(FloatingPointError, match="training diverged at step 1: d_loss is nan"):
        pg.run(3)


# --- the background thread ------------------------------------------------------------------------------------

def test_play_trains_in_the_background_until_paused(stopped):
    pg = make()
    stopped.append(pg)
    updates = []
    pg.play(on_update=lambda: updates.append(pg.history.step), every=0.05)
    assert pg.playing
    wait_for(lambda: len(updates) >= 2, what="two updates while playing")
    pg.pause()
    assert not pg.playing and pg._thread is None
    step = pg.history.step
    assert step >= updates[-1] > updates[0] > 0
    assert pg.snapshots[-1].step == step, "pausing keeps a snapshot of where training stopped"
    speed = pg.speed()
    assert speed["steps/s"] > 0 and speed["redraws/s"] > 0
    pg.step()
    assert pg.history.step == step + 1


def test_only_one_playground_plays_at_a_time(stopped):
    first, second = make(), make()
    stopped += [first, second]
    first.play()
    second.play()
    assert second.playing and not first.playing
    third = make()  # a cell run again builds a new playground: the old one must not train on unseen
    assert not second.playing and not third.playing


def test_an_error_in_the_background_stops_it_and_is_kept(stopped):
    calls = []

    def failing(fake):  # fine for the first snapshot, broken in training
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("my generator loss is broken")
        return -fake.mean()

    pg = Playground({"broken": Loss(NON_SATURATING.discriminator, failing)}, static=True, snapshot_every=1000)
    stopped.append(pg)
    called = []
    pg.play(on_update=lambda: called.append(True))
    wait_for(lambda: not pg.playing, what="the thread stopping")
    assert isinstance(pg.error, RuntimeError) and called == [True], "on_update tells the view about the error"
    pg.pause()
    assert pg.history.step == 0


def test_a_loss_that_fails_at_once_leaves_the_settings_as_they_were():
    def unwritten(fake):
        raise NotImplementedError()

    pg = Playground({**LOSSES, "unwritten": Loss(NON_SATURATING.discriminator, unwritten)}, static=True)
    pg.run(2)
    with pytest.raises(NotImplementedError):
        pg.configure(loss="unwritten", distribution="grid of 25")
    assert (pg.loss, pg.distribution, pg.history.step) == ("non-saturating", "ring of 8", 0)
    assert pg.snapshots[-1].step == 0


def fresh_thread_count() -> int:
    """torch.get_num_threads() in a thread that has not used torch before: the process-wide default."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


def test_playing_changes_no_other_threads_count(stopped):
    mine, default = torch.get_num_threads(), fresh_thread_count()
    pg = make()
    stopped.append(pg)
    pg.play(every=0.05)
    wait_for(lambda: pg.history.step > 2, what="training")
    assert torch.get_num_threads() == mine, "the notebook's thread keeps its count while a playground plays"
    pg.pause()
    assert fresh_thread_count() == default
    broken = Playground({"broken": Loss(lambda real, fake: 1 / 0, NON_SATURATING.generator)}, static=True)
    stopped.append(broken)
    with pytest.raises(ZeroDivisionError):
        broken.run(1)
    broken.play()
    wait_for(lambda: not broken.playing, what="the failing thread stopping")
    assert isinstance(broken.error, ZeroDivisionError)
    assert fresh_thread_count() == default, "a thread that stopped on an error restores the default too"
