"""CKAN groups as themes (主题): the theme classes of GB/T 21063.4 and the datasets filed under them."""
