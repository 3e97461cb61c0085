"""Canny edges follow the EdgeConnect convention and never fall inside the hole."""

import numpy as np
import pytest
from skimage import data
from skimage.color import rgb2gray
from skimage.feature import canny

from inpaint_core.edges import canny_edges, edges_to_image


def test_matches_edgeconnect_call():
    rgb = data.astronaut()
    hole = np.zeros(rgb.shape[:2], bool)
    hole[200:300, 150:350] = True
    expected = canny(rgb2gray(rgb), sigma=2, mask=~hole)
    edges = canny_edges(rgb, hole)
    assert np.array_equal(edges, expected)
    assert not edges[hole].any() and edges.mean() > 0.02


def test_step_edge_found_without_mask():
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, 16:] = 255
    edges = canny_edges(rgb)
    assert edges[4:-4, 15:17].any(axis=1).all() and not edges[:, :12].any()


def test_edges_to_image():
    assert edges_to_image(np.array([[True, False]])).tolist() == [[255, 0]]


def test_bad_input():
    with pytest.raises(ValueError):
        canny_edges(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="mask shape"):
        canny_edges(np.zeros((4, 4, 3), np.uint8), np.zeros((3, 3), bool))
