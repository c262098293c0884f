"""Dice's hand-written gradient against autograd's of eq. 5-6 as printed."""

import copy

import pytest
import torch

from sk_ctr.layers import Dice


def dice_by_formula(dice, inputs):
    """f(s) = p(s) s + (1 - p(s)) alpha s, p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps)),
    with the batch's mean and biased variance in training and the running ones otherwise."""
    flat = inputs.reshape(-1, inputs.shape[-1])
    if dice.training and flat.shape[0] > 0:
        mean, var = flat.mean(dim=0), flat.var(dim=0, unbiased=False)
    else:
        mean, var = dice.running_mean, dice.running_var
    p = torch.sigmoid((inputs - mean) / torch.sqrt(var + dice.eps))
    return p * inputs + (1 - p) * dice.alpha * inputs


@pytest.mark.parametrize("shape", [(9, 4), (3, 5, 4), (1, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_dice_gradients_equal_autograd_of_the_formula(shape, training):
    generator = torch.Generator().manual_seed(0)
    dice = Dice(4).double().train(training)
    with torch.no_grad():
        dice.alpha.normal_(generator=generator)
        dice.running_mean.normal_(generator=generator)
        dice.running_var.uniform_(0.5, 2.0, generator=generator)
    reference = copy.deepcopy(dice)
    inputs = torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)
    reference_inputs = inputs.detach().clone().requires_grad_()
    weights = torch.randn(shape, generator=generator, dtype=torch.float64)
    outputs = dice(inputs)
    expected = dice_by_formula(reference, reference_inputs)
    torch.testing.assert_close(outputs, expected)
    (outputs * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(inputs.grad, reference_inputs.grad)
    torch.testing.assert_close(dice.alpha.grad, reference.alpha.grad)


@pytest.mark.parametrize("training", [True, False])
def test_dice_passes_gradcheck(training):
    dice = Dice(3).double().train(training)
    inputs = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    alpha = torch.empty(3, dtype=torch.float64).uniform_(-0.5, 0.5).requires_grad_()

    def function(inputs, alpha):
        return torch.func.functional_call(dice, {"alpha": alpha}, (inputs,))

    assert torch.autograd.gradcheck(function, (inputs, alpha))
