// dbtrain — the offline DreamBooth trainer: the command and its subcommands (one file each).
//   dbtrain --config train.yaml [--resume] [--<setting> value …]   fine-tune (train_dreambooth.py's keys)
//   dbtrain init --preset sd15|tiny|shapes --out DIR --seed N      a randomly initialised model folder
//   dbtrain make-shapes --out DIR --count N --seed S [--size 64] [--include-held-out]
//                                                                   a shapes-world image folder (imagefolder layout)
//   dbtrain train-vae --model DIR --data DIR --out DIR [--steps N …] train a model folder's VAE on images
//   dbtrain evaluate-shapes --model DIR [--seeds N]                  score a shapes-world model from pixels
//   dbtrain evaluate-subject --model DIR [--seeds N]                 score the dotted-star DreamBooth demo
import ArgumentParser

@main
struct DBTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbtrain",
        abstract: "DreamBooth fine-tuning for Stable Diffusion 1.x models.",
        subcommands: [Train.self, Init.self, MakeShapes.self, TrainVAE.self, EvaluateShapes.self, EvaluateSubject.self, EvaluateVAE.self],
        defaultSubcommand: Train.self)
}
