import pytest
import torch

from models import FAMILIES
from tests.helpers import TINY, tiny

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_generator_shapes_and_range(family):
    G, _ = tiny(family)
    images = G.sample(5, generator=torch.Generator().manual_seed(1))
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    assert images.std() > 0  # not a constant image


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_discriminator_judges_through_one_interface(family):
    from models.common import Judge

    G, D = tiny(family)
    D.eval()
    latents = G.prior(4, torch.Generator().manual_seed(0))
    x = G(latents)
    judgement = Judge(D)(x, latents)  # what training calls, for every family alike
    assert judgement.logits.shape == (4,)
    if family == "infogan":
        assert judgement.cat_logits.shape == (4, G.num_categories)
        assert judgement.code_means.shape == (4, G.num_continuous)
    else:
        assert judgement.cat_logits is None and judgement.code_means is None
    if family == "cgan":  # the label reaches D: another label, another verdict on the same images
        latents.labels = (latents.labels + 1) % G.num_classes
        assert not torch.allclose(Judge(D)(x, latents).logits, judgement.logits)
        latents.labels = None
        with pytest.raises(ValueError, match="needs labels"):
            D.judge(x, latents)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_discriminator_gives_one_logit_per_image(family):
    G, D = tiny(family)
    latents = G.prior(4, torch.Generator().manual_seed(0))
    x = G(latents)
    out = D(x, latents.labels) if family == "cgan" else D(x)
    if family == "infogan":
        logits, cat_logits, code_means = out
        assert cat_logits.shape == (4, G.num_categories) and code_means.shape == (4, G.num_continuous)
    else:
        logits = out
    assert logits.shape == (4,)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_seed_one_image(family):
    G, _ = tiny(family)
    batch = G(G.latents_for_seeds([10, 11, 12]))
    alone = G(G.latents_for_seeds([11]))
    assert torch.allclose(batch[1], alone[0], atol=1e-5)
    assert not torch.allclose(batch[0], batch[1])


def test_conditioning_changes_the_image():
    G, _ = tiny("cgan")
    latents = G.latents_for_seeds([3, 3])
    latents.labels = torch.tensor([1, 7])
    a, b = G(latents)
    assert not torch.allclose(a, b)


def test_priors_of_infogan_codes():
    G, _ = tiny("infogan")
    latents = G.prior(2000, torch.Generator().manual_seed(0))
    assert latents.codes.shape == (2000, 2)
    assert latents.codes.min() >= -1 and latents.codes.max() <= 1
    assert set(latents.categories.tolist()) == set(range(10))


def test_dimensions_are_attributes():
    G, D = tiny("infogan")
    assert (G.z_dim, G.num_categories, G.num_continuous, G.img_shape) == (8, 10, 2, (1, 28, 28))
    assert D.num_categories == 10


def test_gan_discriminator_uses_maxout_and_dropout():
    from models.gan import Maxout

    _, D = tiny("gan")
    assert any(isinstance(m, Maxout) for m in D.modules())
    assert any(isinstance(m, torch.nn.Dropout) for m in D.modules())
    x = torch.zeros(3, 1, 28, 28)
    D.train()
    assert not torch.equal(D(x + torch.randn_like(x)), D(x + torch.randn_like(x)))


def test_minibatch_std_reports_the_batch_spread():
    from models.common import MinibatchStd

    same = MinibatchStd()(torch.ones(4, 3, 2, 2))
    assert same.shape == (4, 4, 2, 2) and same[:, 3].abs().max() == 0
    varied = MinibatchStd()(torch.randn(8, 5))
    assert varied.shape == (8, 6) and varied[0, 5] > 0.5


@pytest.mark.parametrize("family", ["gan", "dcgan"])
def test_discriminators_with_minibatch_std(family):
    _, d_cls = FAMILIES[family]
    kwargs = {"hidden": [16], "pieces": 2} if family == "gan" else {"base_channels": 4}
    D = d_cls(minibatch_std=True, **kwargs)
    assert D(torch.randn(6, 1, 28, 28)).shape == (6,)


def test_gan_generator_with_batch_norm():
    from models.gan import GanGenerator

    G = GanGenerator(z_dim=8, hidden=[16, 32], batch_norm=True).eval()
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules())
    assert G.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("refine, depth", [(False, 2), (True, 3)])
def test_dcgan_follows_the_paper_rules(refine, depth):
    """All-convolutional (no pooling, no fully connected layer), batch norm everywhere but G's output
    layer and D's input layer, ReLU/tanh in G, LeakyReLU in D, in both layouts the presets use."""
    from torch import nn

    from models.dcgan import DcganDiscriminator, DcganGenerator

    G = DcganGenerator(z_dim=8, base_channels=4, refine=refine)
    D = DcganDiscriminator(base_channels=4, depth=depth)
    for net in (G, D):
        kinds = {type(m) for m in net.modules()}
        assert not kinds & {nn.Linear, nn.MaxPool2d, nn.AvgPool2d}
    g_layers = [m for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.Tanh))]
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], (nn.Conv2d, nn.ConvTranspose2d))
    assert {type(m) for m in G.modules()} >= {nn.ReLU, nn.BatchNorm2d}
    d_layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU))]
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)  # no BN on the input layer
    assert sum(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in D.modules()) == depth
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == depth - 1
    assert D(G(G.prior(3))).shape == (3,)
    assert G(G.prior(3)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_seeds_latent_is_the_prior_drawn_from_a_generator_seeded_with_it(family):
    """latents_for_seeds draws every row in place from one reseeded generator; each row must be exactly what
    a fresh generator seeded with that seed gives prior(1, ...) (the definition the shipped seeds' images keep)."""
    G, _ = tiny(family)
    seeds = [0, 1, 7, 2**31 - 1, 2**32 + 5, 2**53 - 1, 7]
    batch = G.latents_for_seeds(seeds)
    for i, seed in enumerate(seeds):
        one = G.prior(1, torch.Generator().manual_seed(seed))
        for name in ("z", "labels", "categories", "codes"):
            expected, got = getattr(one, name), getattr(batch, name)
            assert (expected is None) == (got is None), name
            if expected is not None:
                assert torch.equal(got[i : i + 1], expected), (family, seed, name)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_single_seed_from_many_threads_at_once_is_still_its_prior(family):
    """One seed takes a shorter path (this thread's generator, reseeded): the same numbers, from any thread, with
    other threads reseeding theirs at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    G, _ = tiny(family)
    seeds = list(range(200)) * 3
    with ThreadPoolExecutor(4) as pool:
        drawn = list(pool.map(lambda seed: G.latents_for_seeds([seed]), seeds))
    for seed, one in zip(seeds, drawn, strict=True):
        expected = G.prior(1, torch.Generator().manual_seed(seed))
        for name in ("z", "labels", "categories", "codes"):
            if getattr(expected, name) is not None:
                assert torch.equal(getattr(one, name), getattr(expected, name)), (family, seed, name)


def test_one_hot_is_exact_and_refuses_out_of_range_indices():
    from models.common import one_hot

    index = torch.randint(10, (500,), generator=torch.Generator().manual_seed(0))
    rows = one_hot(index, 10)
    assert torch.equal(rows, torch.nn.functional.one_hot(index, 10).float())
    rows[0, 0] = 7.0  # the cached identity behind it is not written through
    assert torch.equal(one_hot(torch.tensor([0]), 10), torch.eye(10)[:1])
    assert one_hot(index, 10, torch.float16).dtype == torch.float16  # in the dtype of the network's input
    for bad in (-1, 10):
        with pytest.raises(IndexError):
            one_hot(torch.tensor([bad]), 10)


@pytest.mark.parametrize("family", ["dcgan", "cgan", "infogan"])
def test_refine_draws_the_image_with_a_full_resolution_convolution(family):
    """``refine`` (the DCGAN recipe's generator): the last upsampling keeps feature maps at 28x28 and a
    stride-1 convolution draws the image from them; without it the old layout (and old checkpoints) stay."""
    from torch import nn

    g_cls, _ = FAMILIES[family]
    kwargs = TINY[family][0]
    plain, refined = g_cls(**kwargs), g_cls(**kwargs, refine=True)
    last = lambda G: [m for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]  # noqa: E731
    assert type(last(refined)) is nn.Conv2d and last(refined).stride == (1, 1) and last(refined).kernel_size == (3, 3)
    assert type(last(plain)) is nn.ConvTranspose2d
    images = refined.eval()(refined.latents_for_seeds([1, 2]))
    assert images.shape == (2, 1, 28, 28) and images.min() >= -1 and images.max() <= 1


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_latent_recipe_lives_on_the_model(family):
    """balanced_prior and latents_for_seeds with conditioning: the one place service, training and evaluation build
    latents from; labels and categories stay indices until the forward pass makes their one-hot rows."""
    G, _ = tiny(family)
    drawn = G.prior(30, torch.Generator().manual_seed(5))
    balanced = G.balanced_prior(30, torch.Generator().manual_seed(5), repeat=3)
    assert torch.equal(balanced.z, drawn.z)  # only the classes and categories are laid out
    for field, count in (("labels", G.num_classes), ("categories", G.num_categories)):
        values = getattr(balanced, field)
        if count:
            assert values.tolist() == [i // 3 % count for i in range(30)]
        else:
            assert values is None
    given = {"labels": 4 if G.num_classes else None, "categories": 2 if G.num_categories else None,
             "codes": [0.5] * G.num_continuous if G.num_continuous else None}
    latents = G.latents_for_seeds([1, 2, 3], **given)
    plain = G.latents_for_seeds([1, 2, 3])
    assert torch.equal(latents.z, plain.z)  # what is given replaces what was drawn, and moves nothing else
    if G.num_classes:
        assert latents.labels.tolist() == [4, 4, 4] and latents.labels.dtype == torch.long
        per_row = G.latents_for_seeds([1, 2, 3], labels=[0, 5, 9])
        assert per_row.labels.tolist() == [0, 5, 9]
    if G.num_categories:
        assert latents.categories.tolist() == [2, 2, 2] and latents.codes.tolist() == [[0.5, 0.5]] * 3
        assert latents.categories.dim() == 1
    images = G(latents)
    for i, seed in enumerate([1, 2, 3]):  # a seed alone with the same conditioning gives its image
        assert torch.allclose(G(G.latents_for_seeds([seed], **given)), images[i : i + 1], atol=1e-6)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("side", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_family_draws_and_judges_grey_and_colour_images_of_28_32_and_64(family, side, channels):
    g_cls, d_cls = FAMILIES[family]
    g_kwargs, d_kwargs = TINY[family]
    if family != "gan":
        d_kwargs = d_kwargs | {"depth": {28: 2, 32: 3, 64: 4}[side]}
    G = g_cls(img_shape=(channels, side, side), **g_kwargs).eval()
    D = d_cls(img_shape=(channels, side, side), **d_kwargs).eval()
    latents = G.latents_for_seeds([1, 2])
    with torch.inference_mode():
        images = G(latents)
        assert images.shape == (2, channels, side, side) and images.abs().max() <= 1
        assert D.judge(images, latents).logits.shape == (2,)


def test_dcgan_at_64_pixels_is_the_papers_four_fractionally_strided_convolutions_from_4x4():
    from torch import nn

    from models.dcgan import DcganGenerator

    G = DcganGenerator(z_dim=100, img_shape=(3, 64, 64), base_channels=64)
    first = G.net[0]
    assert isinstance(first, nn.ConvTranspose2d) and first.kernel_size == (4, 4) and first.out_channels == 1024
    strided = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2)]
    assert [m.out_channels for m in strided] == [512, 256, 128, 3]
    with pytest.raises(ValueError, match="28 or a power of two"):
        DcganGenerator(img_shape=(3, 48, 48))


def test_cgan_discriminator_conditions_by_concatenation_or_projection_and_may_read_the_class():
    from models import Latents
    from models.cgan import CganDiscriminator

    torch.manual_seed(0)
    x, a, b = torch.randn(6, 1, 28, 28), torch.zeros(6, dtype=torch.long), torch.full((6,), 3)
    concat = CganDiscriminator(num_classes=4, base_channels=4).eval()
    assert not torch.allclose(concat(x, a), concat(x, b))  # the label is part of the input
    assert concat.judge(x, Latents(torch.zeros(6, 0), labels=a)).class_logits is None

    projection = CganDiscriminator(num_classes=4, base_channels=4, conditioning="projection", classify=True).eval()
    assert projection.body[0][0].in_channels == 1  # the label never enters as channels
    # the projection starts at zero (an unconditional D), and then only the label's embedding moves the logit
    assert torch.equal(projection(x, a), projection(x, b))
    with torch.no_grad():
        projection.embed.weight[3].fill_(0.5)
    assert torch.equal(projection(x, a), projection(x, torch.ones(6, dtype=torch.long)))
    assert not torch.allclose(projection(x, a), projection(x, b))
    judgement = projection.judge(x, Latents(torch.zeros(6, 0), labels=a))
    assert judgement.class_logits.shape == (6, 4) and torch.equal(judgement.logits, projection(x, a))
    with pytest.raises(ValueError, match="conditioning"):
        CganDiscriminator(conditioning="both")
