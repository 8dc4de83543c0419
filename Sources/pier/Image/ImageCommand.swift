import ArgumentParser

/// `pier image …`: the image store on the device.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build, import, export, pull, push and manage images on the device.",
        subcommands: [
            ImageList.self, ImageInspect.self, ImageRemove.self, ImageTag.self, ImagePrune.self,
            ImageDiskUsage.self, ImageImport.self, ImageExport.self, ImageBuild.self, ImagePull.self, ImagePush.self,
            ImageSign.self, ImageVerify.self,
        ]
    )
}
