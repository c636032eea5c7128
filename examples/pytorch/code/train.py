"""Train a small PyTorch network on the wine data, the SageMaker script-mode way.

The PyTorch framework image (CPU build of torch) runs this file with each
hyperparameter as ``--name value``; the data is in SM_CHANNEL_TRAIN (CSV, class in the
first column, no header) and whatever lands in SM_MODEL_DIR becomes ``model.tar.gz``.

The network is saved with TorchScript as ``model.pt``, which the PyTorch image's default
``model_fn`` loads (as the AWS PyTorch container does), so it serves with no inference
code. The saved module standardises raw features itself and ends in a softmax: a
request carries the 13 measurements as they are and gets the three class
probabilities back.
"""

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn


class Standardise(nn.Module):
    """(x - mean) / std with the training set's statistics, kept in the saved model."""

    def __init__(self, features: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", features.mean(dim=0))
        self.register_buffer("std", features.std(dim=0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    torch.manual_seed(0)
    frames = [np.loadtxt(path, delimiter=",") for path in sorted(Path(args.train).glob("*.csv"))]
    data = torch.tensor(np.vstack(frames), dtype=torch.float32)
    features, labels = data[:, 1:], data[:, 0].long()
    order = torch.randperm(len(data))
    split = int(len(data) * 0.8)
    train, test = order[:split], order[split:]

    network = nn.Sequential(
        Standardise(features[train]),
        nn.Linear(features.shape[1], args.hidden),
        nn.ReLU(),
        nn.Linear(args.hidden, int(labels.max()) + 1),
    )
    optimiser = torch.optim.Adam(network.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        network.train()
        for batch in torch.split(train[torch.randperm(len(train))], 32):
            optimiser.zero_grad()
            loss = loss_fn(network(features[batch]), labels[batch])
            loss.backward()
            optimiser.step()
        network.eval()
        with torch.no_grad():
            accuracy = (network(features[test]).argmax(dim=1) == labels[test]).float().mean()
        print(f"epoch {epoch} loss: {loss.item():.4f} test accuracy: {accuracy.item():.3f}")

    model = nn.Sequential(network, nn.Softmax(dim=-1)).eval()
    torch.jit.script(model).save(str(Path(args.model_dir, "model.pt")))


if __name__ == "__main__":
    main()
