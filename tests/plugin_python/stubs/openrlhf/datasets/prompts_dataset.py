"""Stand-in for openrlhf/datasets/prompts_dataset.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

A prompt is finished text when the dataset is built: with --data.apply_chat_template the
tokenizer's chat template is applied (add_generation_prompt=True), else --data.input_template is
formatted with the input. The label is data[label_key] ("" without --data.label_key). Items are
(datasource, prompt, label, images); collate_fn makes the batch (datasources, prompts, labels,
images), four lists. (The real one also turns "<image>" tags into content lists for VLMs.)
"""
from torch.utils.data import Dataset


def preprocess_data(data, input_template=None, input_key="input", label_key=None, apply_chat_template=None) -> str:
    if apply_chat_template:
        chat = data[input_key]
        if isinstance(chat, str):
            chat = [{"role": "user", "content": chat}]
        prompt = apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    else:
        prompt = data[input_key]
        if input_template:
            prompt = input_template.format(prompt)
    return prompt, "" if label_key is None else data[label_key]


class PromptDataset(Dataset):
    def __init__(self, dataset, tokenizer, strategy, input_template=None) -> None:
        super().__init__()
        self.strategy, self.tokenizer, self.input_template = strategy, tokenizer, input_template
        data_args = strategy.args.data
        input_key = getattr(data_args, "input_key", None)
        label_key = getattr(data_args, "label_key", None)
        template = tokenizer.apply_chat_template if getattr(data_args, "apply_chat_template", False) else None
        image_key = getattr(data_args, "image_key", "images")
        self.prompts, self.labels, self.images, self.datasources = [], [], [], []
        for data in dataset:
            prompt, label = preprocess_data(data, input_template, input_key, label_key, template)
            self.prompts.append(prompt)
            self.labels.append(label)
            self.images.append(data.get(image_key, None))
            self.datasources.append(data.get("datasource", "default"))

    def __len__(self):
        return len(self.prompts)

    def __getitem__(self, idx):
        return self.datasources[idx], self.prompts[idx], self.labels[idx], self.images[idx]

    def collate_fn(self, item_list):
        datasources, prompts, labels, images = (list(column) for column in zip(*item_list))
        return datasources, prompts, labels, images
