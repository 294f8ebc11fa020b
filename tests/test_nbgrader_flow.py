"""The real nbgrader workflow on notebook 01: generate, autograde right and wrong submissions, feedback."""
from __future__ import annotations

import html
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_helpers import REPO, SOLUTION_01, nbgrader, reference_answers, submission
from gancourse.release import secret_lines

pytestmark = pytest.mark.slow
ASSIGNMENT, NOTEBOOK = "01_vanilla_gan", "vanilla_gan"
AUTOGRADED = ["test_sample_noise", "test_generator", "test_discriminator", "test_discriminator_loss",
              "test_generator_loss", "test_train_step"]

# Common mistakes (section 4 of the course's grading contract): the answer that replaces one solution cell,
# and the autograded test cells that must lose their points because of it.
MISTAKES = {
    "uniform_noise": ("sample_noise", '''
def sample_noise(batch_size, latent_dim, device=None):
    return torch.rand(batch_size, latent_dim, device=device)
''', ["test_sample_noise"]),
    "no_tanh": ("generator", '''
class Generator(nn.Module):
    def __init__(self, latent_dim=64, hidden_dim=256, img_shape=(1, 28, 28)):
        super().__init__()
        self.img_shape = tuple(img_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden_dim, int(torch.tensor(img_shape).prod())))

    def forward(self, z):
        return self.net(z).view(len(z), *self.img_shape)
''', ["test_generator"]),
    "probabilities": ("discriminator", '''
class Discriminator(nn.Module):
    def __init__(self, img_shape=(1, 28, 28), hidden_dim=256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(img_shape).prod()), hidden_dim),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden_dim, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x).squeeze(1)
''', ["test_discriminator"]),
    "swapped_labels": ("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()
''', ["test_discriminator_loss"]),
    "log_sigmoid_overflow": ("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()
''', ["test_discriminator_loss"]),
    "sum_not_mean": ("discriminator_loss", '''
def discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()
''', ["test_discriminator_loss"]),
    "saturating": ("generator_loss", '''
def generator_loss(fake_logits):
    return -F.softplus(fake_logits).mean()
''', ["test_generator_loss"]),
    "no_zero_grad": ("train_step", '''
def train_step(G, D, opt_G, opt_D, real_images, latent_dim):
    fake = G(sample_noise(len(real_images), latent_dim, real_images.device))
    d_loss = discriminator_loss(D(real_images), D(fake.detach()))
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(D(fake))
    g_loss.backward()
    opt_G.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
''', ["test_train_step"]),
    "d_step_moves_g": ("train_step", '''
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
''', ["test_train_step"]),
    "noise_on_default_device": ("train_step", '''
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
''', ["test_train_step"]),
}

# Three wrong submissions, each with several mistakes in different cells (tests of one cell never depend on
# another exercise being right, so each mistake must cost exactly its own cell's points).
WRONG_SUBMISSIONS = {
    "wrong_1": ["uniform_noise", "no_tanh", "swapped_labels", "saturating", "no_zero_grad"],
    "wrong_2": ["probabilities", "log_sigmoid_overflow", "d_step_moves_g"],
    "wrong_3": ["sum_not_mean", "noise_on_default_device"],
}
SUBMISSION_OF = {mistake: student for student, mistakes in WRONG_SUBMISSIONS.items() for mistake in mistakes}

# Other correct ways to write the exercises: they must get full marks too.
ALTERNATIVES = {
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
        fake = G(sample_noise(n, latent_dim, device))
    d_loss = discriminator_loss(D(real_images), D(fake))
    opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(D(G(sample_noise(n, latent_dim, device))))
    opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_G.step()
    return {"d_loss": float(d_loss), "g_loss": float(g_loss)}
''',
}


def _submit(course: Path, student: str, nb: nbformat.NotebookNode) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
    (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, mnist_root):
    """A scratch course with every submission autograded and feedback generated; yields (path, seconds)."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy2(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions", course / "solutions")
    env = {"GANCOURSE_DATA": str(mnist_root)}
    nbgrader(course, "generate_assignment", ASSIGNMENT, env=env)
    release = course / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    reference = reference_answers()
    _submit(course, "reference", submission(reference, release))
    _submit(course, "reference_again", submission(reference, release))
    _submit(course, "untouched", nbformat.read(release, as_version=4))
    _submit(course, "alternatives", submission({**reference, **ALTERNATIVES}, release))
    for student, mistakes in WRONG_SUBMISSIONS.items():
        wrong = {MISTAKES[m][0]: MISTAKES[m][1] for m in mistakes}
        _submit(course, student, submission({**reference, **wrong}, release))
    started = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, env=env)
    seconds = (time.perf_counter() - started) / (len(WRONG_SUBMISSIONS) + 4)
    nbgrader(course, "generate_feedback", ASSIGNMENT, env=env)
    return course, seconds


def scores(course: Path, student: str) -> dict[str, float]:
    """Autograded score of every test cell of one student's submission."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        nb = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {g.name: g.score for g in nb.grades if g.name in AUTOGRADED}


def max_scores(course: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        nb = gradebook.find_notebook(NOTEBOOK, ASSIGNMENT)
        return {c.name: c.max_score for c in nb.grade_cells if c.name in AUTOGRADED}


def test_reference_solution_gets_full_marks(graded_course):
    course, _ = graded_course
    assert scores(course, "reference") == max_scores(course)


def test_other_correct_implementations_get_full_marks(graded_course):
    course, _ = graded_course
    assert scores(course, "alternatives") == max_scores(course)


def test_untouched_release_scores_zero_without_crashing(graded_course):
    course, _ = graded_course
    assert scores(course, "untouched") == {name: 0.0 for name in AUTOGRADED}


def test_grading_is_repeatable(graded_course):
    course, _ = graded_course
    assert scores(course, "reference_again") == scores(course, "reference")


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_common_mistake_loses_its_points(graded_course, mistake):
    course, _ = graded_course
    earned = scores(course, SUBMISSION_OF[mistake])
    assert all(earned[cell] == 0.0 for cell in MISTAKES[mistake][2]), earned


@pytest.mark.parametrize("student", sorted(WRONG_SUBMISSIONS))
def test_wrong_submission_keeps_the_points_of_its_correct_cells(graded_course, student):
    course, _ = graded_course
    failing = {cell for mistake in WRONG_SUBMISSIONS[student] for cell in MISTAKES[mistake][2]}
    expected = {name: 0.0 if name in failing else points for name, points in max_scores(course).items()}
    assert scores(course, student) == expected


def test_autograding_one_submission_takes_under_a_minute(graded_course):
    _, seconds = graded_course
    assert seconds < 60, f"autograde took {seconds:.0f} s per submission"


def _feedback_text(course: Path, student: str) -> str:
    page = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_feedback_hides_hidden_tests_but_names_the_mistake(graded_course):
    course, _ = graded_course
    hidden = secret_lines(SOLUTION_01, kinds=("HIDDEN TESTS",))
    for student in ["reference", "untouched", *WRONG_SUBMISSIONS]:
        text = _feedback_text(course, student)
        lines = {line.strip() for line in text.splitlines()}
        assert not hidden & lines, f"{student}'s feedback shows hidden test code: {sorted(hidden & lines)[:3]}"
        if student != "untouched":  # its ungraded training cell fails, with a (visible) traceback
            assert "Traceback (most recent call last)" not in text and "----> " not in text
    wrong = _feedback_text(course, SUBMISSION_OF["saturating"])
    assert "looks like the saturating loss" in wrong
    assert "looks like swapped labels" in wrong
    assert "opt_D.step() used stale gradients" in wrong
    assert 'assert_scalar(loss, "generator_loss")' in wrong  # visible test code is still shown
