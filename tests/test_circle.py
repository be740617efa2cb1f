"""Procrustes fit to the theoretical circle and values out of order.

Reference: R 4.2.2 Patched, smacof 2.1-7:
    Y <- smacofSym(circ10, ndim=2, type='ordinal', init='torgerson', eps=1e-12, itmax=1e5)$conf
    Procrustes(X=cbind(cos(a), sin(a)), Y)   # a = 2*pi*(0:9)/10
"""

import numpy as np
import pytest

from llmvalues.circle import angles_degrees, out_of_order, procrustes, theoretical_circle

R_CIRC10_CONFIGURATION = np.array([
    [0.111754162039521, -0.691347840741701],
    [-0.335517584769597, -0.561955539120409],
    [-0.597401483767633, -0.302999044918434],
    [-0.649937198077635, 0.0723736989246468],
    [-0.497476902006188, 0.485317728179424],
    [-0.146269549613303, 0.697675958206879],
    [0.317137123211832, 0.546415972974139],
    [0.690185829687548, 0.221146277974239],
    [0.624387283677583, -0.0651370926313555],
    [0.483138319617872, -0.401490118847429],
])
R_CONGRUENCE = 0.99812411972815
R_ALIENATION = 0.0612228847483104
R_DILATION = 1.48507392913281


def rotate(points, degrees):
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return points @ rotation.T


def test_congruence_matches_smacof():
    fit = procrustes(theoretical_circle(10), R_CIRC10_CONFIGURATION)
    assert fit.congruence == pytest.approx(R_CONGRUENCE, abs=1e-6)


def test_alienation_matches_smacof():
    fit = procrustes(theoretical_circle(10), R_CIRC10_CONFIGURATION)
    assert fit.alienation == pytest.approx(R_ALIENATION, abs=1e-6)


def test_dilation_matches_smacof():
    fit = procrustes(theoretical_circle(10), R_CIRC10_CONFIGURATION)
    assert fit.dilation == pytest.approx(R_DILATION, abs=1e-6)


def test_similar_copy_recovered():
    target = theoretical_circle(19)
    testee = 0.4 * rotate(target, 70.0)[:, ::-1] + np.array([3.0, -2.0])  # rotated, reflected, shrunk, moved
    fit = procrustes(target, testee)
    assert np.allclose(fit.fitted, target, atol=1e-12)
    assert fit.dilation == pytest.approx(2.5)
    assert fit.congruence == pytest.approx(1.0)
    assert np.allclose(fit.rotation @ fit.rotation.T, np.eye(2))


def test_theoretical_circle_spacing():
    points = theoretical_circle(19)
    assert np.allclose(np.hypot(points[:, 0], points[:, 1]), 1.0)
    steps = np.diff(np.unwrap(np.radians(angles_degrees(points))))
    assert np.allclose(steps, 2.0 * np.pi / 19)


def test_circle_in_order():
    assert out_of_order(angles_degrees(theoretical_circle(19))) == []


def test_rotated_circle_in_order():
    assert out_of_order(angles_degrees(rotate(theoretical_circle(19), 200.0))) == []


def test_swapped_pair_detected():
    angles = angles_degrees(theoretical_circle(19))
    angles[[4, 5]] = angles[[5, 4]]
    assert len(out_of_order(angles)) == 1


def test_misplaced_value_named():
    angles = angles_degrees(theoretical_circle(19))
    angles[10] = angles[2] + 1.0  # value 10 lands between values 2 and 3
    assert out_of_order(angles) == [10]


def test_reflected_circle_mostly_out():
    angles = angles_degrees(theoretical_circle(19) * np.array([1.0, -1.0]))  # clockwise
    assert len(out_of_order(angles)) >= 17


def test_procrustes_shape_mismatch():
    with pytest.raises(ValueError, match="same n x p shape"):
        procrustes(theoretical_circle(5), theoretical_circle(6))
