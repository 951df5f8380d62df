// attachments: what goes with the next message besides its text, from the Attach button, a paste
// or a drop on the composer. Images (for vision models) are scaled down here, before they are sent
// as the message's `images` and kept in the chat; text files (notes, data, code) are added to the
// message's text, each in a fenced block under its name.

declare module "./conversation" {
  interface Message { images?: string[] }  // a user message's images: base64 JPEG, as Ollama takes them
}

// What an image is sent as: a photo's 12 megapixels would be megabytes in every request and every
// save of the chat, while vision models see far fewer pixels than this anyway.
const imageScaling = { maxSide: 1536, jpegQuality: 0.85 };

// Files whose type the browser may not know (or says is application/...) that are text all the same.
const textExtensions = ["txt", "md", "csv", "tsv", "json", "jsonl", "yaml", "yml", "toml", "ini", "xml", "html", "css", "log",
  "c", "h", "cc", "cpp", "hpp", "rs", "go", "py", "js", "mjs", "ts", "tsx", "jsx", "java", "kt", "swift", "rb", "php", "cs",
  "sh", "sql", "lua", "r", "tex", "diff", "patch"];

const extensionOf = (name: string) => (name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "");
const isText = (file: File) => file.type.startsWith("text/") || textExtensions.includes(extensionOf(file.name));

type Attached = { image: string } | { name: string; text: string };

// The image as a JPEG, its longest side at most imageScaling.maxSide: base64, without "data:...,".
async function scaledJpeg(file: Blob): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, imageScaling.maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const context = canvas.getContext("2d");
  if (!context) throw new Error("the browser cannot draw it");
  context.fillStyle = "#fff";  // a transparent PNG's background becomes white, not JPEG's black
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const url = canvas.toDataURL("image/jpeg", imageScaling.jpegQuality);
  return url.slice(url.indexOf(",") + 1);
}

// A file's text as markdown: a fence longer than any run of backticks in it, so it cannot close early.
function fenced(name: string, text: string): string {
  const longest = (text.match(/`{3,}/g) ?? []).reduce((most, run) => Math.max(most, run.length), 2);
  const fence = "`".repeat(longest + 1);
  return `${name}:\n${fence}${extensionOf(name)}\n${text.replace(/\n$/, "")}\n${fence}`;
}

function thumbnail(image: string): HTMLImageElement {
  const img = document.createElement("img");
  img.src = `data:image/jpeg;base64,${image}`;
  img.alt = "attached image";
  return img;
}

// A sent message's images, above its text.
export function imageStrip(images: string[]): HTMLElement {
  const strip = document.createElement("div");
  strip.className = "images";
  strip.append(...images.map(thumbnail));
  return strip;
}

export class Attachments {
  private attached: Attached[] = [];
  private reading = 0;  // files still being read or scaled
  private imagesTaken = false;  // the picked model has vision

  constructor(private readonly parts: { composer: HTMLFormElement; input: HTMLTextAreaElement; strip: HTMLElement;
                                        button: HTMLButtonElement; picker: HTMLInputElement },
              private readonly notify: (text: string) => void) {
    const { composer, input, button, picker } = parts;
    picker.accept = ["image/*", "text/*", ...textExtensions.map((extension) => `.${extension}`)].join();
    button.onclick = () => picker.click();
    picker.onchange = () => {
      void this.add([...(picker.files ?? [])]);
      picker.value = "";  // the same file can be picked again
    };
    input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (!files.length) return;
      if (!event.clipboardData?.types.includes("text/plain")) event.preventDefault();  // text pasted beside it stays
      void this.add(files);
    });
    composer.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();  // (a drop is allowed only where dragover was cancelled)
      composer.classList.add("dropping");
    });
    composer.addEventListener("dragleave", () => composer.classList.remove("dropping"));
    composer.addEventListener("drop", (event) => {
      composer.classList.remove("dropping");
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      void this.add([...event.dataTransfer.files]);
    });
  }

  // Images are offered (the Attach button) only to a model with vision; text files can still be
  // dropped or pasted for any model.
  offerImages(offered: boolean) {
    this.imagesTaken = offered;
    this.parts.button.hidden = !offered;
  }

  get busy() {
    return this.reading > 0;
  }

  get empty() {
    return this.attached.length === 0;
  }

  // The message to send: the typed text with the text files after it, and the images. The
  // composer is emptied.
  take(typed: string): { content: string; images: string[] } {
    const blocks = this.attached.flatMap((a) => ("text" in a ? [fenced(a.name, a.text)] : []));
    const images = this.attached.flatMap((a) => ("image" in a ? [a.image] : []));
    this.attached = [];
    this.show();
    return { content: [typed, ...blocks].filter(Boolean).join("\n\n"), images };
  }

  // Editing a sent message: its images are attached again (its text files are in its text).
  restore(images: string[] = []) {
    this.attached = images.map((image) => ({ image }));
    this.show();
  }

  private async add(files: File[]) {
    this.reading += files.length;
    this.show();
    const read = await Promise.all(files.map((file) => this.read(file)));
    this.reading -= files.length;
    this.attached.push(...read.filter((a): a is Attached => a !== undefined));
    this.show();
  }

  private async read(file: File): Promise<Attached | undefined> {
    try {
      if (file.type.startsWith("image/")) {
        if (!this.imagesTaken) throw new Error("the picked model does not take images (no vision)");
        return { image: await scaledJpeg(file) };
      }
      if (isText(file)) return { name: file.name, text: await file.text() };
      throw new Error("only images and text files can be attached");
    } catch (error) {
      this.notify(`Cannot attach ${file.name}: ${(error as Error).message}`);
      return undefined;
    }
  }

  // The composer's strip: a thumbnail or the name of each, with × to remove it.
  private show() {
    const { strip } = this.parts;
    strip.replaceChildren(...this.attached.map((attached) => {
      const item = document.createElement("span");
      item.className = "image" in attached ? "attached-image" : "attached-file";
      item.append("image" in attached ? thumbnail(attached.image) : attached.name);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.title = "Remove";
      remove.onclick = () => {
        this.attached = this.attached.filter((a) => a !== attached);
        this.show();
      };
      item.append(remove);
      return item;
    }));
    if (this.reading) strip.append("reading…");
    strip.hidden = !strip.childNodes.length;
  }
}
