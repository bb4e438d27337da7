"""Step rate by GPU across a folder of logs: comfylog's Python API, notebook style.

    python examples/step_rate_by_gpu.py ../shared/corpus/logs step-rate-by-gpu.html

Each ``# %%`` cell runs on its own in VS Code or Jupyter. The figure is one self-contained HTML
file (plotly embedded, no network needed to open it). ``make lint`` type-checks this file with
``mypy --strict``: the API it uses is typed end to end.
"""

# %% Imports: pandas and plotly are used here, never imported by comfylog until asked for
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import comfylog


# %% Analyse every log of a folder on its own, and keep its tables as DataFrames
def load_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """All tables of all logs, concatenated; ``source`` (the log's path) tells the logs apart."""
    frames: list[dict[str, pd.DataFrame]] = []
    for path in sorted(folder.glob("*.log")):
        report: comfylog.Report = comfylog.analyze(path)
        gpu = report.runs[0].gpu if report.runs else None
        print(f"{path.name}: {len(report.prompts)} prompts on {gpu or 'an unknown device'}")
        frames.append(comfylog.to_frames(report))
    if not frames:
        raise SystemExit(f"no *.log files in {folder}")
    return {name: pd.concat([f[name] for f in frames], ignore_index=True) for name in frames[0]}


# %% One row per sampling bar: its GPU and its speed in steps per second
def step_rates(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Sampling bars joined to their prompt's run for the GPU; loading and download bars left out."""
    bars: pd.DataFrame = tables["progress_bars"]
    bars = bars[bars["rate_unit"].isin(["it/s", "s/it"]) & (bars["final_rate"] > 0) & (bars["total"] > 1)]
    labels = bars["label"].fillna("").str.lower()
    bars = bars[~labels.str.contains("load|download")]
    prompts = tables["prompts"][["source", "index", "run"]].rename(columns={"index": "prompt"})
    runs = tables["runs"][["source", "index", "gpu"]].rename(columns={"index": "run"})
    rows: pd.DataFrame = bars.merge(prompts, on=["source", "prompt"]).merge(runs, on=["source", "run"])
    rows["steps_per_s"] = rows["final_rate"].where(rows["rate_unit"] == "it/s", 1.0 / rows["final_rate"])
    rows["gpu"] = rows["gpu"].fillna("unknown")
    rows["log"] = rows["source"].map(lambda source: Path(str(source)).name)
    columns: pd.DataFrame = rows[["gpu", "log", "prompt", "total", "steps_per_s"]]
    return columns


# %% Plot: one box per GPU, every bar a point, log scale (CPUs and H100s on one chart)
def plot(rates: pd.DataFrame, out: Path) -> Path:
    import plotly.express as px  # type: ignore[import-untyped]

    order = rates.groupby("gpu")["steps_per_s"].median().sort_values().index.tolist()
    figure = px.box(
        rates, x="gpu", y="steps_per_s", points="all", log_y=True, hover_data=["log", "prompt", "total"],
        category_orders={"gpu": order}, title="Sampling speed by GPU (steps per second, one point per bar)",
    )
    figure.update_layout(xaxis_title=None, yaxis_title="steps / s")
    figure.write_html(str(out), include_plotlyjs=True)
    return out


# %% Run it
def main(argv: list[str]) -> None:
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out = Path(argv[2]) if len(argv) > 2 else Path("step-rate-by-gpu.html")
    rates = step_rates(load_folder(folder))
    print(rates.groupby("gpu")["steps_per_s"].describe()[["count", "50%", "max"]].round(2).to_string())
    print(f"wrote {plot(rates, out)}")


if __name__ == "__main__":
    main(sys.argv)
