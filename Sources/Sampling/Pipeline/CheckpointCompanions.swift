// What a model needs besides its three networks — the tokenizer and the scheduler configuration —
// decided in ONE place for every user of an opened checkpoint: the pipeline (so the daemon and the
// trainer's class images and validation renders), the trainer's noise schedule, and the model
// folder the trainer writes.
//
// A diffusers folder carries both (`tokenizer/`, `scheduler/scheduler_config.json`). A single
// original-layout file carries neither, and a folder may lack them; then SD 1.x's stand in, as
// diffusers' `from_single_file` does (it reads the hub's SD 1.x `scheduler_config.json` and CLIP
// tokenizer): the bundled CLIP ViT-L/14 vocabulary, and `SchedulerConfiguration.stableDiffusion1`
// — never a scheduler class's bare defaults (linear betas 0.0001–0.02, `steps_offset` 0, a noise
// schedule no SD 1.x model was trained with). Which of the two applies is reported, so that
// `GET /v1/model` and the daemon's start-up line can say so.
//
// The other side values of a single file are explicit too: the network configurations are the
// `sd15` presets (`ModelCheckpoint.open`), whose VAE scaling factor is 0.18215, and the prediction
// type is the scheduler configuration's (absent in SD 1.x's: epsilon, every class's default).
import Foundation
import Models
import Weights

/// Where a model's side file came from.
public enum CompanionSource: String, Sendable, Equatable {
    /// The model's own file.
    case model
    /// SD 1.x's, standing in for a file the model does not carry.
    case stableDiffusion1Default = "sd1-default"
}

extension ModelCheckpoint {
    /// Where the scheduler configuration comes from (see the file header).
    public var schedulerConfigurationSource: CompanionSource {
        schedulerConfigURL == nil ? .stableDiffusion1Default : .model
    }

    /// The scheduler configuration every sampler and the trainer's noising are built from: the
    /// folder's `scheduler_config.json`, else SD 1.x's.
    public func schedulerConfiguration() throws -> SchedulerConfiguration {
        try SchedulerConfiguration.decode(try schedulerConfigurationFile(), path: schedulerConfigURL?.path ?? "SD 1.x default")
    }

    /// The bytes `schedulerConfiguration()` is read from — what a model folder written from this
    /// checkpoint carries, so that it renders and trains on the same schedule.
    public func schedulerConfigurationFile() throws -> Data {
        guard let schedulerConfigURL else { return Data(RandomModelFolder.schedulerConfig.utf8) }
        do { return try Data(contentsOf: schedulerConfigURL) } catch {
            throw SchedulerError.unreadableConfiguration(path: schedulerConfigURL.path, reason: error.localizedDescription)
        }
    }

    /// Where the tokenizer comes from (see the file header).
    public var tokenizerSource: CompanionSource {
        tokenizerDirectory == nil ? .stableDiffusion1Default : .model
    }

    /// The folder holding the tokenizer's files: the model's `tokenizer/`, else the bundled CLIP
    /// ViT-L/14 vocabulary (what the trainer copies into the folder it writes).
    public func tokenizerFiles() throws -> URL {
        try tokenizerDirectory ?? CLIPTokenizer.bundledVocabularyDirectory()
    }

    /// The tokenizer prompts are encoded with.
    public func tokenizer() throws -> CLIPTokenizer {
        guard let tokenizerDirectory else { return try CLIPTokenizer.standard() }
        return try CLIPTokenizer(directory: tokenizerDirectory)
    }
}
