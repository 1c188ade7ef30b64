"""Writes torch_bilstm.safetensors and torch_bilstm.json for tests/recurrent_model.rs.

A PyTorch model whose state dict a `model!` declaration with the same field
names loads by name:

    lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True)   # every step, concat
    fc   = nn.Linear(8, 2)                                       # per step

The JSON holds an input batch [2, 5, 3] and PyTorch's output [2, 5, 2].
Run with PyTorch 2.x and safetensors: `python gen_torch_bilstm.py`.
"""
import json

import torch
from safetensors.torch import save_file

torch.manual_seed(0)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y)


net = Net()
x = torch.randn(2, 5, 3)
with torch.no_grad():
    y = net(x)
save_file({k: v.contiguous() for k, v in net.state_dict().items()}, "torch_bilstm.safetensors")
with open("torch_bilstm.json", "w") as f:
    json.dump({"input": x.flatten().tolist(), "output": y.flatten().tolist()}, f)
print(sorted(net.state_dict().keys()))
