"""vitcourse.palette: ImageGPT's k-means palette (well-separated colours found, sorted, seeded),
quantize/dequantize round trips and nearest levels; errors."""
import pytest
import torch

from vitcourse.palette import dequantize, kmeans_palette, quantize


def test_kmeans_palette_finds_well_separated_colours_sorted_and_deterministic():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.1, 0.1], [0.5, 0.9, 0.5], [0.95, 0.95, 0.9]])
    pixels = centres.repeat(200, 1) + 0.01 * torch.randn(800, 3, generator=g)
    palette = kmeans_palette(pixels, 4, seed=0)
    assert palette.shape == (4, 3) and palette.dtype == torch.float32
    torch.testing.assert_close(palette, centres[centres.sum(1).argsort()], atol=0.01, rtol=0)
    assert torch.all(palette.sum(1)[1:] >= palette.sum(1)[:-1])                   # sorted by brightness
    assert torch.equal(kmeans_palette(pixels, 4, seed=0), palette)
    assert torch.equal(kmeans_palette(pixels.numpy(), 4, seed=0), palette)       # numpy in, same answer


def test_kmeans_palette_on_an_image_batch():
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    palette = kmeans_palette(images, 4, seed=1)
    assert palette.shape == (4, 1) and torch.all(palette[1:, 0] > palette[:-1, 0])
    assert palette.min() >= 0 and palette.max() <= 1


def test_quantize_dequantize_round_trip_on_palette_colours():
    palette = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.8, 0.4], [1.0, 1.0, 1.0]])
    tokens = torch.randint(0, 4, (3, 12), generator=torch.Generator().manual_seed(0))
    images = dequantize(tokens, palette, height=3)
    assert images.shape == (3, 3, 3, 4)
    assert torch.equal(images[1, :, 0, 2], palette[tokens[1, 2]])                # raster order: row 0, column 2
    assert torch.equal(images[1, :, 2, 1], palette[tokens[1, 2 * 4 + 1]])        # row 2, column 1
    assert torch.equal(quantize(images, palette), tokens)
    assert torch.equal(quantize(images + 0.05, palette), tokens)                 # nearest colour
    assert dequantize(tokens[:, :9], palette).shape == (3, 3, 3, 3)              # square by default


def test_quantize_picks_the_nearest_level():
    palette = torch.tensor([[0.0], [0.4], [1.0]])
    img = torch.tensor([0.1, 0.19, 0.21, 0.69, 0.71, 2.0]).reshape(1, 1, 2, 3)
    assert quantize(img, palette).tolist() == [[0, 0, 1, 1, 2, 2]]


def test_bad_palette_input():
    with pytest.raises(ValueError, match="distinct"):
        kmeans_palette(torch.tensor([[0.0], [1.0], [1.0]]), 3)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        kmeans_palette(torch.zeros(2, 3, 4), 2)
    palette = torch.tensor([[0.0], [1.0]])
    with pytest.raises(ValueError, match="C=1"):
        quantize(torch.zeros(1, 3, 4, 4), palette)
    with pytest.raises(ValueError, match="palette"):
        quantize(torch.zeros(1, 1, 4, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        dequantize(torch.tensor([[0, 2, 1, 0]]), palette)
    with pytest.raises(ValueError, match="square"):
        dequantize(torch.tensor([[0, 1, 1]]), palette)
    with pytest.raises(ValueError, match="integer"):
        dequantize(torch.zeros(1, 4), palette)

